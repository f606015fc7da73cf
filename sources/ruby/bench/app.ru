# frozen_string_literal: true

# The Rack apps of bench/ruby_bench.ts. BENCH_APP picks the app: "json" (default) returns a
# fixed 27-byte JSON body, "page" renders an HTML page of 20 rows from an ERB template after
# reading the query with Rack::Request. In front of it: Eventstorm::Rack when EVENTSTORM_TO is
# set (its emitter publishes there, and on exit writes how many events it emitted to the file
# EVENTSTORM_EMITTED names), Eventstorm::Rack handing its events to an emitter that drops
# them when EVENTSTORM_DISCARD is set (for reference: what the middleware costs before it
# writes an event), Rack::CommonLogger writing its access log line to the file COMMON_LOG
# names when that is set (for reference), nothing otherwise.
$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "eventstorm/rack"
require "erb"

if ENV["EVENTSTORM_TO"]
  emitter = Eventstorm::Emitter.new(ENV["EVENTSTORM_TO"], host: "bench")
  at_exit do # Puma exits on TERM: the last batch goes out
    emitter.close(timeout: 10)
    File.write(ENV["EVENTSTORM_EMITTED"], emitter.stats[:emitted].to_s) if ENV["EVENTSTORM_EMITTED"]
  end
  use Eventstorm::Rack, emitter: emitter
end
if ENV["EVENTSTORM_DISCARD"]
  discard = Object.new
  def discard.emit_record(_type, _writer, _record); end
  use Eventstorm::Rack, emitter: discard
end
if ENV["COMMON_LOG"]
  log = File.open(ENV["COMMON_LOG"], "a")
  log.sync = true # a line per request reaches the file, as a log shipper would need
  use Rack::CommonLogger, log
end

# Renders the page of items the query asks for.
class ItemsPage
  ITEMS = Array.new(20) { |i| { id: i + 1, name: "Item <#{i + 1}>", price: (i + 1) * 1.25 } }
  TEMPLATE = ERB.new(<<~HTML, trim_mode: "-")
    <!doctype html>
    <html><head><title>Items, page <%= page %></title></head><body>
    <h1>Items</h1>
    <table>
    <%- ITEMS.each do |item| -%>
      <tr><td><%= item[:id] %></td><td><%= ERB::Util.h(item[:name]) %></td><td><%= format("%.2f", item[:price]) %></td></tr>
    <%- end -%>
    </table>
    </body></html>
  HTML

  def call(env)
    page = Integer(Rack::Request.new(env).params.fetch("page", "1"), exception: false) || 1
    body = TEMPLATE.result(binding)
    [200, { "content-type" => "text/html; charset=utf-8", "content-length" => body.bytesize.to_s },
     [body]]
  end
end

if ENV["BENCH_APP"] == "page"
  run ItemsPage.new
else
  body = "{\"ok\":true,\"items\":[1,2,3]}"
  run ->(_env) { [200, { "content-type" => "application/json" }, [body]] }
end
