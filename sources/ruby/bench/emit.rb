# frozen_string_literal: true

# The Ruby side of bench/ruby_bench.ts: emits TOTAL events of about 250 bytes (the transport
# benchmark's sample http.hit) through ENDPOINT once a subscriber is there, then prints its
# figures as one JSON line.
#
#   ruby sources/ruby/bench/emit.rb ">tcp://127.0.0.1:5555" 1000000
$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "eventstorm"
require "json"

endpoint, total = ARGV
total = Integer(total || 1_000_000)
emitter = Eventstorm::Emitter.new(endpoint, host: "web1", batch_size: 1000,
                                            high_water_mark: 1000)
deadline = Eventstorm.monotonic + 30
sleep 0.01 until emitter.stats[:subscribed] || Eventstorm.monotonic > deadline
sleep 0.2
agent = "Debian APT-HTTP/1.3 (0.9.7.9) #{'x' * 54}"
started = Eventstorm.monotonic
total.times do |i|
  emitter.emit("http.hit", remote_addr: "203.0.113.7", method: "GET",
                           path: "/downloads/product_1", status: 200, body_bytes_sent: 4312,
                           http_user_agent: agent)
end
emitter.close(timeout: 30)
seconds = Eventstorm.monotonic - started
stats = emitter.stats
puts JSON.generate(role: "send", seconds: seconds, events: stats[:sent],
                   dropped: stats[:dropped] + stats[:overflow])
