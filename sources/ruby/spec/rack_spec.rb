# frozen_string_literal: true

require_relative "spec_helper"
require "eventstorm/rack"
require "net/http"
require "tmpdir"
require "puma"
require "puma/server"

RSpec.describe Eventstorm::Rack do
  let(:endpoint) { "tcp://127.0.0.1:#{free_port}" }
  let(:collector) { Eventstorm::Collector.new("@#{endpoint}", prefixes: ["http."]) }
  let(:emitter) { Eventstorm::Emitter.new(">#{endpoint}", host: "web1") }
  let(:port) { free_port }

  # A SUB socket sends its subscription only while it is used.
  def subscribe
    collector.receive(timeout: 0.2)
    wait_until { emitter.stats[:subscribed] }
  end

  # Decodes with BSON types kept, to compare them with the nginx source's.
  def typed_events(count)
    raws = []
    deadline = Eventstorm.monotonic + 30
    while raws.size < count && Eventstorm.monotonic < deadline
      frames = []
      socket = collector.instance_variable_get(:@socket)
      socket.setsockopt(ZMQ::RCVTIMEO, 200)
      next if socket.recv_strings(frames).negative?

      message = Eventstorm::Protocol.parse(frames)
      raws.concat(message.documents.map { |d| Eventstorm::Protocol.decode(d, mode: :bson) })
    end
    raws
  end

  def start_puma(app, errors = [])
    handler = lambda do |error, _env, _status|
      errors << error
      [500, {}, ["server saw #{error.class}"]]
    end
    server = Puma::Server.new(app, Puma::Events.strings, lowlevel_error_handler: handler,
                                                         min_threads: 4, max_threads: 8)
    server.add_tcp_listener("127.0.0.1", port)
    server.run
    server
  end

  it "emits one http.hit per request inside Puma, with the nginx source's names and types" do
    app = lambda do |env|
      # /big streams (counted as the server writes it); the others are arrays.
      body = env["PATH_INFO"] == "/big" ? ["a" * 5000, "b" * 5000].each : ["ok"]
      status = env["PATH_INFO"] == "/missing" ? 404 : 200
      [status, { "content-type" => "text/plain" }, body]
    end
    server = start_puma(described_class.new(app, emitter: emitter))
    subscribe
    requests = 200
    http = Net::HTTP.start("127.0.0.1", port)
    requests.times do |i|
      path = ["/big", "/missing", "/a/b?x=#{i}&y=2", "/"][i % 4]
      request = Net::HTTP::Get.new(path, "User-Agent" => "rspec/#{i}",
                                         "Referer" => "http://example.test/#{i}")
      http.request(request)
    end
    http.finish
    emitter.flush(timeout: 10)
    events = typed_events(requests)
    expect(events.size).to eq(requests)
    agents = Array.new(requests) { |i| "rspec/#{i}" }
    expect(events.map { |e| e["http_user_agent"] }).to match_array(agents)

    big = events.find { |e| e["http_user_agent"] == "rspec/0" }
    expect(big.keys).to eq(%w[type time host remote_addr request method path protocol status
                              body_bytes_sent request_time http_referer http_user_agent http_host])
    expect(big).to include("type" => "http.hit", "host" => "web1", "method" => "GET",
                           "path" => "/big", "remote_addr" => "127.0.0.1",
                           "request" => "GET /big HTTP/1.1", "protocol" => "HTTP/1.1",
                           "http_referer" => "http://example.test/0",
                           "http_host" => "127.0.0.1:#{port}")
    # Canonical Extended JSON names each value's BSON type exactly.
    types = big.as_extended_json
    expect(types["status"]).to eq("$numberInt" => "200")
    expect(types["body_bytes_sent"]).to eq("$numberInt" => "10000")
    # Whole seconds are int32, as the nginx source writes them; anything else a double.
    expect(types["request_time"].keys)
      .to eq([big["request_time"] == big["request_time"].to_i ? "$numberInt" : "$numberDouble"])
    expect(big["request_time"]).to be >= 0
    expect(types["time"].keys).to eq(["$date"])

    missing = events.find { |e| e["http_user_agent"] == "rspec/1" }
    expect(missing).to include("status" => 404, "path" => "/missing")
    expect(missing).not_to have_key("query")
    query = events.find { |e| e["http_user_agent"] == "rspec/2" }
    expect(query).to include("path" => "/a/b", "query" => "x=2&y=2",
                             "request" => "GET /a/b?x=2&y=2 HTTP/1.1")
  ensure
    server&.stop(true)
    emitter.close(timeout: 0)
    collector.close
  end

  it "counts no body bytes where the server sends no body: HEAD, 204, 304" do
    app = lambda do |env|
      status = env["PATH_INFO"][1..].to_i
      [status, { "content-type" => "text/plain" }, ["13 bytes body"]]
    end
    server = start_puma(described_class.new(app, emitter: emitter))
    subscribe
    http = Net::HTTP.start("127.0.0.1", port)
    http.request(Net::HTTP::Head.new("/200"))
    %w[/200 /204 /304].each { |path| http.request(Net::HTTP::Get.new(path)) }
    http.finish
    emitter.flush(timeout: 10)
    events = typed_events(4).map { |e| [e["method"], e["status"], e["body_bytes_sent"]] }
    expect(events).to match_array([["HEAD", 200, 0], ["GET", 200, 13], ["GET", 204, 0], ["GET", 304, 0]])
  ensure
    server&.stop(true)
    emitter.close(timeout: 0)
    collector.close
  end

  it "an app exception gives an event with status 500 and reaches the server unchanged" do
    failure = Class.new(StandardError)
    raised = []
    app = lambda do |_env|
      raised << failure.new("the app failed")
      raise raised.last
    end
    seen_by_server = []
    server = start_puma(described_class.new(app, emitter: emitter), seen_by_server)
    subscribe
    response = Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/boom?q=1"))
    expect(response.code).to eq("500")
    expect(seen_by_server.size).to eq(1)
    expect(seen_by_server.first).to equal(raised.first)
    emitter.flush(timeout: 10)
    event = typed_events(1).first.as_extended_json
    expect(event).to include("status" => { "$numberInt" => "500" }, "path" => "/boom",
                             "query" => "q=1", "body_bytes_sent" => { "$numberInt" => "0" })
  ensure
    server&.stop(true)
    emitter.close(timeout: 0)
    collector.close
  end

  # A batch of one http.hit written from a record, and the event decoded with BSON types kept.
  def packed_hit(record)
    batch = hit_batch
    batch.add_record(described_class::HitFields, record)
    expect(batch.pack_records).to eq([0, 0])
    [batch.body, BSON::Document.from_bson(BSON::ByteBuffer.new(batch.body), mode: :bson)]
  end

  it "writes numbers as the nginx source does: int32 when whole, a double above 2 GiB" do
    records = []
    recorder = Object.new
    recorder.define_singleton_method(:emit_record) { |type, _writer, record| records << [type, record] }
    # A streamed 3 GiB body (chunks that only say their size) that took exactly 2 seconds.
    chunk = Struct.new(:bytesize).new(3 * (2**30))
    allow(Eventstorm).to receive(:monotonic).and_return(100.0, 102.0)
    middleware = described_class.new(->(_env) { [200, {}, [chunk].each] }, emitter: recorder)
    before = Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
    _status, _headers, body = middleware.call("REQUEST_METHOD" => "GET", "PATH_INFO" => "/big")
    body.each { |_| nil }
    body.close
    type, record = records.first
    expect(type).to eq("http.hit")
    millis = record[described_class::HitFields::ENV_KEYS.size]
    expect(millis).to be_between(before, Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond))
    types = packed_hit(record).last.as_extended_json
    expect(types["time"]).to eq("$date" => { "$numberLong" => millis.to_s })
    expect(types["body_bytes_sent"]).to eq("$numberDouble" => "3221225472.0")
    expect(types["request_time"]).to eq("$numberInt" => "2")
    expect(types["status"]).to eq("$numberInt" => "200")
    expect(types).to include("remote_addr" => "", "path" => "/big", "request" => "GET /big ")
    expect(middleware.errors).to eq(0)
  ensure
    collector.close
  end

  it "writes events byte for byte as bson-ruby does, and text that is not UTF-8 with U+FFFD" do
    random = Random.new(RSpec.configuration.seed)
    texts = ["", "/", "/a/b", "caf\u00e9", "\u{1F600} x", "a\u0000b", "x" * 300,
             "/%E2%82%AC", "Mozilla/5.0 (X11; Linux x86_64)"]
    500.times do
      pick = -> { texts.sample(random: random) }
      maybe = -> { [nil, "", pick.call].sample(random: random) }
      millis = random.rand(-2**40..2**42)
      elapsed = [0, 2.0, 0.0012, 1.5, 123.4561].sample(random: random)
      status = [200, 404, 2**31, -1].sample(random: random)
      bytes = [0, 17, 2**31 - 1, 2**31, 3 * (2**30)].sample(random: random)
      remote_addr, method, script, path_info, query, protocol, referer, agent, host =
        [maybe.call, %w[GET POST HEAD].sample(random: random), maybe.call, maybe.call,
         maybe.call, pick.call, maybe.call, maybe.call, maybe.call]
      path = "#{script}#{path_info}"
      path = "/" if path.empty?
      query = nil if query&.empty?
      target = query ? "#{path}?#{query}" : path
      expected = { "remote_addr" => remote_addr.to_s, "request" => "#{method} #{target} #{protocol}",
                   "method" => method, "path" => path }
      expected["query"] = query if query
      expected["protocol"] = protocol
      # No body went out for HEAD or a status below 200 (nor 204, 304).
      sent = method == "HEAD" || status < 200 ? 0 : bytes
      { "status" => status, "body_bytes_sent" => sent, "request_time" => elapsed.round(3) }
        .each do |name, value|
          expected[name] = value == value.to_i && value.to_i.between?(-2**31, 2**31 - 1) ? value.to_i : value.to_f
        end
      described_class::HitFields::HEADERS.zip([referer, agent, host]) do |name, value|
        expected[name] = value unless value.nil? || value.empty?
      end
      record = [remote_addr, method, script, path_info, query, protocol, nil, referer, agent,
                host, millis, elapsed, status, bytes]
      reference = hit_batch
      reference.add(Time.at(Rational(millis, 1000)), expected)
      expect(packed_hit(record).first).to eq(reference.body), -> { record.inspect }
    end

    latin1 = "caf\xE9".dup.force_encoding(Encoding::ISO_8859_1)
    _body, decoded = packed_hit([:local, "GET", nil, "/\xFF\xC3".b,
                                 "q=\xE9".dup.force_encoding(Encoding::UTF_8), nil, "HTTP/1.0",
                                 latin1, "\xC3\xA9t\xE9".b, nil, 0, 0.0, 200, 0])
    expect(decoded).to include("remote_addr" => "local", "path" => "/\uFFFD\uFFFD",
                               "query" => "q=\uFFFD", "protocol" => "HTTP/1.0",
                               "request" => "GET /\uFFFD\uFFFD?q=\uFFFD HTTP/1.0",
                               "http_referer" => "caf\u00e9", "http_user_agent" => "\u00e9t\uFFFD")
  end

  it "keeps the env's values in the order HitFields reads them (ENV_KEYS)" do
    env = described_class::HitFields::ENV_KEYS.to_h { |key| [key, key] }
    reply = described_class::Reply.of(nil, env, 1, 2.0, 200, 3)
    expect(reply.first(described_class::HitFields::ENV_KEYS.size))
      .to eq(described_class::HitFields::ENV_KEYS)
    expect(reply[described_class::HitFields::ENV_KEYS.size, 4]).to eq([1, 2.0, 200, 3])
  end

  it "writes the event once the response is out: in the server's hook, else on the body's close" do
    records = []
    recorder = Object.new
    recorder.define_singleton_method(:emit_record) { |_type, _writer, record| records << record }
    middleware = described_class.new(->(_env) { [200, {}, %w[o k]] }, emitter: recorder)
    request = { "REQUEST_METHOD" => "GET", "PATH_INFO" => "/" }
    # Puma's rack.after_reply (no arguments) and Rack 3.1's rack.response_finished (four):
    # the Array body passes through untouched, and the event waits for the hook.
    [["rack.after_reply", []], ["rack.response_finished", [{}, 200, {}, nil]]].each do |hook, args|
      hooks = []
      status, _headers, body = middleware.call(request.merge(hook => hooks))
      expect([status, body, hooks.size, records.size]).to eq([200, %w[o k], 1, 0])
      hooks.first.call(*args)
      expect(records.pop[12, 2]).to eq([200, 2])
    end
    # No hook: the body is wrapped, and the event is written when the server closes it.
    _status, _headers, body = middleware.call(request)
    expect(body.to_enum(:each).to_a).to eq(%w[o k])
    expect(records).to be_empty
    body.close
    expect(records.pop[12, 2]).to eq([200, 2])
  ensure
    collector.close
  end

  it "passes a Rack 3 streaming body through as one, counting what it writes" do
    require "stringio"
    records = []
    recorder = Object.new
    recorder.define_singleton_method(:emit_record) { |_type, _writer, record| records << record }
    streaming = lambda do |stream|
      stream.write("hello ")
      stream << "world"
      stream.close
    end
    middleware = described_class.new(->(_env) { [200, {}, streaming] }, emitter: recorder)
    request = { "REQUEST_METHOD" => "GET", "PATH_INFO" => "/" }
    # Without a hook: written when the body's call returns.
    _status, _headers, body = middleware.call(request)
    expect([body.respond_to?(:each), body.respond_to?(:call)]).to eq([false, true])
    stream = StringIO.new
    body.call(stream)
    expect([stream.string, stream.closed?]).to eq(["hello world", true])
    expect(records.pop[12, 2]).to eq([200, 11])
    # With the server's hook: written there.
    hooks = []
    _status, _headers, body = middleware.call(request.merge("rack.response_finished" => hooks))
    expect(body.respond_to?(:each)).to be(false)
    body.call(StringIO.new)
    expect(records).to be_empty
    hooks.each { |hook| hook.call({}, 200, {}, nil) }
    expect(records.pop[12, 2]).to eq([200, 11])
    expect(middleware.errors).to eq(0)
  ensure
    collector.close
  end

  it "records the status the client got when inserted before Rails' ShowExceptions" do
    begin
      require "action_dispatch"
      require "action_controller"
    rescue LoadError
      skip "no actionpack here"
    end
    require "rack/mock"
    records = []
    recorder = Object.new
    recorder.define_singleton_method(:emit_record) { |_type, _writer, record| records << record }
    app = lambda do |env|
      case env["PATH_INFO"]
      when "/missing-param" then raise ActionController::ParameterMissing, :user
      when "/not-found" then raise ActionController::RoutingError, "No route"
      else raise "the app failed"
      end
    end
    show = ->(inner) { ActionDispatch::ShowExceptions.new(inner, ActionDispatch::PublicExceptions.new("/nonexistent")) }
    # Where the README puts it (insert_before ActionDispatch::ShowExceptions), and inside.
    outside = described_class.new(show.call(ActionDispatch::DebugExceptions.new(app)), emitter: recorder)
    inside = show.call(ActionDispatch::DebugExceptions.new(described_class.new(app, emitter: recorder)))
    statuses = [outside, inside].map do |stack|
      %w[/missing-param /not-found /boom].map do |path|
        env = Rack::MockRequest.env_for(path, "action_dispatch.show_exceptions" => true,
                                              "action_dispatch.logger" => Logger.new(File::NULL),
                                              "action_dispatch.show_detailed_exceptions" => false)
        status, _headers, body = stack.call(env)
        body.close if body.respond_to?(:close)
        [status, records.pop[described_class::HitFields::ENV_KEYS.size + 2]]
      end
    end
    expect(statuses).to eq([[[400, 400], [404, 404], [500, 500]], [[400, 500], [404, 500], [500, 500]]])
  ensure
    collector.close
  end

  it "never raises into the app when emitting fails" do
    emitter.close(timeout: 0)
    middleware = described_class.new(lambda { |env|
      [200, {}, env["PATH_INFO"] == "/stream" ? %w[o k].each : ["ok"]]
    }, emitter: emitter)
    hooks = []
    status, _headers, body = middleware.call("REQUEST_METHOD" => "GET", "PATH_INFO" => "/",
                                             "rack.after_reply" => hooks)
    expect([status, body]).to eq([200, ["ok"]])
    expect { hooks.each(&:call) }.not_to raise_error
    expect(middleware.errors).to eq(1)
    status, _headers, body = middleware.call("REQUEST_METHOD" => "GET", "PATH_INFO" => "/stream")
    expect(status).to eq(200)
    expect(body.to_enum(:each).to_a).to eq(%w[o k])
    expect { body.close }.not_to raise_error
    expect(middleware.errors).to eq(2)
  ensure
    collector.close
  end

  # The README's code block that starts with +first_line+.
  def readme_block(first_line)
    readme = File.read(File.expand_path("../README.md", __dir__))
    readme.scan(/^```ruby\n(.*?)^```$/m).flatten.find { |code| code.start_with?(first_line) } or
      raise "no block #{first_line} in the README"
  end

  # Runs Puma with the README's config.ru as it is written (the router's endpoint, the gem's
  # path and MyApp given) and +puma_config+, sends +requests+, stops it with TERM and answers
  # the pid each response named. The events are the collector's.
  def serve_readme(puma_config, requests)
    dir = Dir.mktmpdir("eventstorm-readme")
    config_ru = readme_block("# config.ru").sub(">tcp://router:5555", ">#{endpoint}")
    File.write(File.join(dir, "config.ru"), <<~RUBY + config_ru)
      $LOAD_PATH.unshift(#{File.expand_path('../lib', __dir__).inspect})
      MyApp = ->(env) { [200, { "content-type" => "text/plain" }, ["pid \#{Process.pid} \#{env['PATH_INFO']}"]] }
    RUBY
    File.write(File.join(dir, "puma.rb"), puma_config)
    pid = Process.spawn("puma", "-C", File.join(dir, "puma.rb"), "-b", "tcp://127.0.0.1:#{port}",
                        File.join(dir, "config.ru"), out: File::NULL, err: File::NULL, pgroup: true)
    wait_until(timeout: 60) do
      Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/ready")).code == "200"
    rescue SystemCallError
      false
    end
    pids = Array.new(requests) do |i|
      Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/r#{i}")).body[/pid (\d+)/, 1]
    end
    Process.kill("TERM", pid) # the emitters close: in on_worker_shutdown, else at exit
    Process.wait(pid)
    pid = nil
    pids
  ensure
    begin
      Process.kill("KILL", -pid) if pid
    rescue Errno::ESRCH
      nil
    end
    FileUtils.rm_rf(dir) if dir
  end

  # The events until the "/last" one, which an emitter of the spec's sends.
  def events_until_last(received)
    Eventstorm::Emitter.new(">#{endpoint}").tap { |e| e.emit("http.hit", path: "/last") }.close
    received.value.reject { |e| e["path"] == "/ready" }
  end

  it "the README's config.ru and Puma hook, as written: each forked worker its own stream" do
    # Received in a thread: each worker's new connection needs the subscription sent to it.
    received = Thread.new { collector.each(timeout: 60).take_while { |e| e["path"] != "/last" } }
    requests = 300
    pids = serve_readme(<<~RUBY + readme_block("# config/puma.rb"), requests)
      workers 2
      threads 2, 4
      preload_app!
    RUBY
    events = events_until_last(received)
    expect(events.size).to eq(requests)
    expect(events.map { |e| e["path"] }).to match_array(Array.new(requests) { |i| "/r#{i}" })
    expect(collector.stats).to include(lost: 0, duplicates: 0)
    # One stream per worker that served a request, plus the "/last" emitter.
    expect(collector.stats[:streams]).to eq(pids.uniq.size + 1)
    expect(pids.uniq.size).to eq(2)
  ensure
    collector.close
  end

  it "Puma in single mode, where no worker hook runs, loses nothing: the emitter closes at exit" do
    received = Thread.new { collector.each(timeout: 60).take_while { |e| e["path"] != "/last" } }
    requests = 50
    serve_readme("threads 2, 4\n", requests)
    events = events_until_last(received)
    expect(events.map { |e| e["path"] }).to match_array(Array.new(requests) { |i| "/r#{i}" })
    expect(collector.stats).to include(lost: 0, duplicates: 0, streams: 2)
  ensure
    collector.close
  end
end
