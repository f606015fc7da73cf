# frozen_string_literal: true

# The Rack app of bench/ruby_bench.ts: a small JSON response, with Eventstorm::Rack when
# EVENTSTORM_TO is set (its emitter publishes there) and bare otherwise.
$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "eventstorm/rack"

if ENV["EVENTSTORM_TO"]
  emitter = Eventstorm::Emitter.new(ENV["EVENTSTORM_TO"], host: "bench")
  at_exit { emitter.close(timeout: 10) } # Puma exits on TERM: the last batch goes out
  use Eventstorm::Rack, emitter: emitter
end
body = "{\"ok\":true,\"items\":[1,2,3]}"
run ->(_env) { [200, { "content-type" => "application/json" }, [body]] }
