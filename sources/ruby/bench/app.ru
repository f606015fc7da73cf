# frozen_string_literal: true

# The Rack app of bench/ruby_bench.ts: a small JSON response, with Eventstorm::Rack when
# EVENTSTORM_TO is set (its emitter publishes there), with Rack::CommonLogger writing its
# access log line to the file COMMON_LOG names when that is set (for reference), and bare
# otherwise.
$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "eventstorm/rack"

if ENV["EVENTSTORM_TO"]
  emitter = Eventstorm::Emitter.new(ENV["EVENTSTORM_TO"], host: "bench")
  at_exit { emitter.close(timeout: 10) } # Puma exits on TERM: the last batch goes out
  use Eventstorm::Rack, emitter: emitter
end
if ENV["COMMON_LOG"]
  log = File.open(ENV["COMMON_LOG"], "a")
  log.sync = true # a line per request reaches the file, as a log shipper would need
  use Rack::CommonLogger, log
end
body = "{\"ok\":true,\"items\":[1,2,3]}"
run ->(_env) { [200, { "content-type" => "application/json" }, [body]] }
