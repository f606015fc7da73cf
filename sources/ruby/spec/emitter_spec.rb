# frozen_string_literal: true

require_relative "spec_helper"

RSpec.describe Eventstorm::Emitter do
  let(:endpoint) { "tcp://127.0.0.1:#{free_port}" }

  # Emitters and collectors of an example, closed after it.
  def open_emitter(*args, **options)
    (@opened ||= []) << described_class.new(*args, **options)
    @opened.last
  end

  def open_collector(*args, **options)
    (@opened ||= []) << Eventstorm::Collector.new(*args, **options)
    @opened.last
  end

  after do
    (@opened || []).each { |it| it.is_a?(described_class) ? it.close(timeout: 0) : it.close }
  end

  # A thread that runs the block until its +:stop+ is set. Exceptions of class +boom+ raised
  # into it from outside reach it inside the block only, wherever it is in there, and are
  # rescued there.
  def interruptible(boom)
    inside = Queue.new
    thread = Thread.new do
      Thread.handle_interrupt(boom => :never) do
        inside << true
        until Thread.current[:stop]
          begin
            Thread.handle_interrupt(boom => :immediate) { yield }
          rescue boom
            nil
          end
        end
        while Thread.pending_interrupt? # the last ones may have come while it was outside
          begin
            Thread.handle_interrupt(boom => :immediate) { Thread.pass }
          rescue boom
            nil
          end
        end
      end
    end
    inside.pop
    thread
  end

  # Raises +boom+ into +thread+ 1,500 times, one every 0.3 ms or so.
  def raise_into(thread, boom)
    1500.times do
      sleep 0.0003
      thread.raise(boom)
    end
  end

  it "sends nothing before a subscriber and everything once one is there" do
    emitter = open_emitter(">#{endpoint}", host: "spec")
    10.times { |i| emitter.emit("app.deploy", n: i) }
    expect(emitter.flush(timeout: 0.3)).to be(false)
    expect(emitter.stats).to include(sent: 0, waiting: 10, subscribed: false)

    collector = open_collector("@#{endpoint}")
    received = collect(collector, 10)
    expect(emitter.flush(timeout: 10)).to be(true)
    events = received.value
    expect(events.map { |e| e["n"] }).to eq((0...10).to_a)
    expect(events.first).to include("type" => "app.deploy", "host" => "spec")
    expect(events.first["time"]).to be_a(Time)
    expect(collector.stats).to include(lost: 0, events: 10)
  end

  it "does not send topics no subscriber wants, and numbers each topic from 0" do
    collector = open_collector("@#{endpoint}", prefixes: ["http."])
    emitter = open_emitter(">#{endpoint}", host: "spec", batch_size: 3)
    received = collect(collector, 7)
    wait_until { emitter.stats[:subscribed] }
    7.times { |i| emitter.emit("http.hit", n: i) }
    5.times { |i| emitter.emit("ssh.login", n: i) }
    expect(emitter.flush(timeout: 10)).to be(true)
    expect(received.value.size).to eq(7)
    expect(emitter.stats).to include(sent: 7, unwanted: 5, messages: 3)
    expect(collector.stats).to include(lost: 0, events: 7, messages: 3)
  end

  it "announces an idle topic's next index, so the loss of its last message is counted" do
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec")
    received = collect(collector, 1_000_000, timeout: 2.5)
    wait_until { emitter.stats[:subscribed] }
    3.times { |i| emitter.emit("app.tick", n: i) }
    emitter.flush
    received.join
    expect(collector.stats[:announcements]).to be >= 1
    expect(emitter.stats[:announcements]).to be >= 1

    # A receiver that had the first event and missed the others counts them lost when the
    # announcement comes.
    late = Eventstorm::Collector.new("@inproc://late")
    first = { "type" => "app.tick", "time" => Time.now, "host" => "spec", "n" => 0 }
    late.handle(Eventstorm::Protocol.encode(topic: "app.tick", events: [first],
                                            source: emitter.source, first: 0))
    late.handle(["app.tick", Eventstorm::Protocol.header(count: 0, source: emitter.source,
                                                         first: 3), ""])
    expect(late.stats).to include(lost: 2, events: 1, announcements: 1)
    late.close
  end

  it "never blocks: what a full queue refuses waits within hold:, beyond it is dropped and counted" do
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec", batch_size: 1,
                                                   high_water_mark: 10, hold: 1_000)
    collector.receive(timeout: 0.2) # sends the subscription, then reads nothing for a while
    wait_until { emitter.stats[:subscribed] }
    started = Eventstorm.monotonic
    20_000.times { |i| emitter.emit("app.flood", n: i, pad: "x" * 1000) }
    expect(Eventstorm.monotonic - started).to be < 30
    stats = emitter.stats
    expect(stats[:dropped]).to be > 0
    expect(stats[:waiting]).to be_between(1, 1_000)
    expect(stats[:sent] + stats[:dropped] + stats[:waiting]).to eq(20_000)
    drained = Thread.new { nil while collector.receive(timeout: 3) }
    expect(emitter.close(timeout: 20)).to be(true)
    drained.join
    # What waited went once the receiver read again: nothing more was dropped.
    expect(emitter.stats).to include(sent: stats[:sent] + stats[:waiting],
                                     dropped: stats[:dropped], waiting: 0)
    expect(collector.stats[:events]).to eq(stats[:sent] + stats[:waiting])
    expect(collector.stats[:lost] + collector.stats[:events]).to eq(20_000)
  end

  it "is thread-safe: many threads share one emitter and one stream, nothing lost" do
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec", batch_size: 50)
    threads, per_thread = 8, 2_000
    received = collect(collector, threads * per_thread, timeout: 60)
    wait_until { emitter.stats[:subscribed] }
    Array.new(threads) do |t|
      Thread.new { per_thread.times { |i| emitter.emit("app.thread", t: t, n: i) } }
    end.each(&:join)
    expect(emitter.flush(timeout: 30)).to be(true)
    events = received.value
    expect(events.size).to eq(threads * per_thread)
    threads.times do |t|
      expect(events.select { |e| e["t"] == t }.map { |e| e["n"] }).to eq((0...per_thread).to_a)
    end
    expect(collector.stats).to include(lost: 0, duplicates: 0, streams: 1)
  end

  it "reopens in a forked child with a new source id; every worker is its own stream" do
    emitter = open_emitter(">#{endpoint}", host: "spec")
    parent_source = emitter.source
    collector = open_collector("@#{endpoint}")
    workers, per_worker = 3, 500
    received = collect(collector, workers * per_worker, timeout: 60)
    _, reports = in_children(workers) do |w|
      # The child's first events come from three threads at once: one reopen, one stream.
      Array.new(3) do |t|
        Thread.new { (t...per_worker).step(3) { |i| emitter.emit("app.worker", w: w, n: i) } }
      end.each(&:join)
      ok = emitter.close(timeout: 20)
      stats = emitter.stats
      { source: emitter.source.to_s, ok: ok, sent: stats[:sent],
        dropped: stats[:dropped] + stats[:overflow] }
    end
    events = received.value
    expect(reports.size).to eq(workers)
    expect(reports.map { |r| r["source"] }.uniq.size).to eq(workers)
    expect(reports.map { |r| r["source"] }).not_to include(parent_source.to_s)
    expect(reports.sum { |r| r["sent"] } + reports.sum { |r| r["dropped"] })
      .to eq(workers * per_worker)
    expect(events.size).to eq(reports.sum { |r| r["sent"] })
    expect(collector.stats[:streams]).to eq(workers)
    expect(collector.stats[:lost]).to eq(reports.sum { |r| r["dropped"] })
    workers.times do |w|
      expect(events.select { |e| e["w"] == w }.map { |e| e["n"] }.sort).to eq((0...per_worker).to_a)
    end
    expect(emitter.source).to eq(parent_source)
  end

  it "notices every way Ruby forks: fork, IO.popen(\"-\") and Process.daemon" do
    skip "Process._fork needs Ruby 3.1" unless Eventstorm::Forks.tracked?
    before = Eventstorm::Forks.count
    reader, writer = IO.pipe
    pid = fork do
      reader.close
      writer.puts(Eventstorm::Forks.count)
      # A daemon's parent exits at once; the daemon reports, then a grandchild of it.
      fork do
        Process.daemon(true, true)
        writer.puts(Eventstorm::Forks.count)
        writer.close
        exit!(0)
      end
      exit!(0)
    end
    Process.wait(pid)
    writer.close
    counts = reader.read.lines.map(&:to_i)
    popen = IO.popen("-") { |child| child ? child.read.to_i : (print(Eventstorm::Forks.count) || exit!(0)) }
    expect(counts).to eq([before + 1, before + 3])
    expect(popen).to eq(before + 1)
    expect(Eventstorm::Forks.count).to eq(before)
  end

  it "keeps the envelope single: a host field overrides, string keys work, a type must match" do
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec")
    received = collect(collector, 2)
    wait_until { emitter.stats[:subscribed] }
    emitter.emit("app.keys", host: "other", n: 1)
    emitter.emit("app.keys", **{ "n" => 2, "type" => "app.keys" })
    expect { emitter.emit("app.keys", type: "app.other") }.to raise_error(ArgumentError, /type/)
    emitter.flush(timeout: 10)
    first, second = received.value
    expect(first.to_h).to include("host" => "other", "n" => 1)
    expect(first.keys).to eq(%w[type time host n])
    expect(second.keys).to eq(%w[type time host n])
    expect(second).to include("host" => "spec", "n" => 2)
  end

  it "encodes every event byte for byte as bson-ruby encodes the whole document" do
    times = [Time.at(0), Time.at(-1, 500_000, :usec), Time.at(2**33, 999_999, :usec),
             Time.now, Time.at(1_700_000_000, 123_456_789, :nsec), DateTime.new(2001, 2, 3)]
    fields = [{}, { n: 1 }, { big: 2**40, neg: -7, ratio: 0.25, none: nil, yes: true },
              { "text" => "ünïcode ✓", "nested" => { "a" => [1, "b"] } },
              { at: Time.at(5), id: BSON::ObjectId.new, bin: BSON::Binary.new("\x00\xff".b) },
              { host: "other", n: 2 }]
    envelope = Eventstorm::Batch.envelope("app.bytes", "wéb1")
    batch = Eventstorm::Batch.new("app.bytes", "wéb1", envelope)
    expected = times.product(fields).map do |time, own|
      expect(batch.add(time, own)).to be(true)
      document = { "type" => "app.bytes", "time" => time, "host" => "wéb1" }
      own.each { |key, value| document[key.to_s] = value }
      document.to_bson.to_s
    end
    expect(batch.count).to eq(expected.size)
    expect(batch.bytesize).to eq(expected.sum(&:bytesize))
    expect(batch.body).to eq(expected.join)
    # Without a time, the clock's: within the moments around the call.
    batch = Eventstorm::Batch.new("app.bytes", "wéb1", envelope)
    before = Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
    batch.add(nil, { n: 1 })
    after = Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
    stamped = BSON::Document.from_bson(BSON::ByteBuffer.new(batch.body))["time"]
    expect((stamped.to_i * 1000) + (stamped.usec / 1000)).to be_between(before, after)
  end

  it "writes records in order, counts one its writer cannot write, and packs them for stats" do
    # A writer of events { n: record } that cannot write a negative n.
    writer = Object.new
    writer.define_singleton_method(:pack_record) do |n, values|
      raise ArgumentError, "negative" if n.negative?

      # The fields' size, the template, the time, a free slot, then the fields' values.
      values.push(8, "#{Eventstorm::Batch::PACKED_ENVELOPE}a*l<x", 1_700_000_000_000 + n, nil,
                  "\x10n\x00".b, n)
    end
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec", batch_size: 4, linger: 60)
    received = collect(collector, 9)
    wait_until { emitter.stats[:subscribed] }
    3.times { |n| emitter.emit_record("app.kept", writer, n) }
    expect(emitter.stats).to include(emitted: 3, waiting: 3, sent: 0, unencodable: 0)
    # The bad one takes a slot until the batch packs it, when the batch is full: it is
    # counted then and left out, and the batch goes with three.
    emitter.emit_record("app.kept", writer, -1)
    expect(emitter.stats).to include(emitted: 4, waiting: 0, unencodable: 1, sent: 3)
    emitter.emit_record("app.kept", writer, 3)
    expect(emitter.stats).to include(emitted: 5, waiting: 1, sent: 3)
    5.times { |n| emitter.emit_record("app.kept", writer, n + 4) }
    expect(emitter.stats).to include(emitted: 10, waiting: 2, sent: 7)
    expect(emitter.flush(timeout: 10)).to be(true)
    events = received.value
    expect(events.map { |e| e["n"] }).to eq((0..8).to_a)
    expect(events.map { |e| (e["time"].to_r * 1000).to_i }).to eq((0..8).map { |n| 1_700_000_000_000 + n })
    expect(events.first).to include("type" => "app.kept", "host" => "spec")
    expect(emitter.stats).to include(emitted: 10, sent: 9, unencodable: 1, waiting: 0)
    expect(collector.stats).to include(lost: 0, events: 9)

    emitter.close(timeout: 1)
    expect { emitter.emit_record("app.kept", writer, 9) }.to raise_error(Eventstorm::Error, /closed/)
    expect { emitter.emit_record("App Kept", writer, 9) }.to raise_error(ArgumentError)
  end

  it "packs records in order with emitted events, each once under Thread#raise" do
    # A writer of events { n: record }; the record 100 asks the spec's thread to raise into
    # the emitting thread while it is being packed.
    packing = Queue.new
    writer = Object.new
    writer.define_singleton_method(:pack_record) do |n, values|
      if n == 100
        packing << :now
        sleep 0.2 # the raise arrives in here, and must wait until the record is written
      end
      values.push(8, "#{Eventstorm::Batch::PACKED_ENVELOPE}a*l<x", 1_700_000_000_000 + n, nil,
                  "\x10n\x00".b, n)
    end
    total = 150
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec", batch_size: 10_000, linger: 60)
    received = collect(collector, total + 1)
    wait_until { emitter.stats[:subscribed] }
    emitting = Thread.new do
      Thread.current.report_on_exception = false
      20.times { |n| emitter.emit_record("app.kept", writer, n) }
      emitter.emit("app.kept", n: -1) # after the records before it
      (20...total).each { |n| emitter.emit_record("app.kept", writer, n) }
    end
    expect(packing.pop).to eq(:now)
    emitting.raise(Interrupt, "from outside")
    expect { emitting.join }.to raise_error(Interrupt, "from outside")
    # The raise came once the call that packed record 100 was done: every call it counted is
    # in the batch, once.
    stats = emitter.stats
    expect(stats[:emitted]).to be > 101
    expect(stats).to include(waiting: stats[:emitted], unencodable: 0)
    ((stats[:emitted] - 1)...total).each { |n| emitter.emit_record("app.kept", writer, n) }
    expect(emitter.flush(timeout: 10)).to be(true)
    events = received.value
    expect(events.map { |e| e["n"] }).to eq([*0...20, -1, *20...total])
    expect(collector.stats).to include(lost: 0, events: total + 1)
  ensure
    emitting&.kill
  end

  it "keeps packed events and encoded ones in the order they were added" do
    envelope = Eventstorm::Batch.envelope("app.bytes", "web1")
    batch = Eventstorm::Batch.new("app.bytes", "web1", envelope)
    template = "#{Eventstorm::Batch::PACKED_ENVELOPE}a*l<x"
    packed = ->(n) { [nil, nil, nil, nil, "\x10n\x00".b, n] }
    expected = []
    add_packed = lambda do |n|
      expect(batch.add_packed(n * 1000, template, packed.call(n), 8)).to be(true)
      expected << { "type" => "app.bytes", "time" => Time.at(n), "host" => "web1", "n" => n }
    end
    add = lambda do |n|
      expect(batch.add(Time.at(n), { n: n })).to be(true)
      expected << { "type" => "app.bytes", "time" => Time.at(n), "host" => "web1", "n" => n }
    end
    add_packed.call(1)
    add_packed.call(2)
    expect(batch.bytesize).to eq(batch.body.bytesize)
    add.call(3)
    add_packed.call(4)
    add.call(5)
    expect(batch.count).to eq(5)
    expect(batch.bytesize).to eq(batch.body.bytesize)
    expect(batch.body).to eq(expected.map { |document| document.to_bson.to_s }.join)

    # Too big, a time receivers reject, or a value pack refuses: the batch is as it was.
    batch = Eventstorm::Batch.new("app.bytes", "web1", envelope)
    add_packed.call(1)
    before = batch.body.dup
    big = [nil, nil, nil, nil, "\x02s\x00".b, Eventstorm::Batch::MAX_EVENT + 1, "x" * Eventstorm::Batch::MAX_EVENT]
    expect(batch.add_packed(0, "#{Eventstorm::Batch::PACKED_ENVELOPE}a*Va*xx", big,
                            Eventstorm::Batch::MAX_EVENT + 8)).to be(false)
    expect { batch.add_packed(Eventstorm::Protocol::MAX_DATE_MS + 1, template, packed.call(1), 8) }
      .to raise_error(ArgumentError, /8.64e15/)
    expect { batch.add_packed(0, "#{template}a*", packed.call(1) << 7, 8) }.to raise_error(TypeError)
    expect([batch.count, batch.body]).to eq([1, before])
  end

  it "counts the records a batch cannot pack, and packs the others in order" do
    envelope = Eventstorm::Batch.envelope("app.bytes", "web1")
    batch = Eventstorm::Batch.new("app.bytes", "web1", envelope)
    template = "#{Eventstorm::Batch::PACKED_ENVELOPE}a*l<x"
    writer = Object.new
    writer.define_singleton_method(:pack_record) do |kind, values|
      case kind
      when :raises then raise ArgumentError, "cannot"
      when :refused then values.push(8, "#{template}a*", 0, nil, "\x10n\x00".b, 1, 7)
      when :far then values.push(8, template, Eventstorm::Protocol::MAX_DATE_MS + 1, nil, "\x10n\x00".b, 1)
      when :big
        big = "x" * Eventstorm::Batch::MAX_EVENT
        values.push(big.bytesize + 8, "#{Eventstorm::Batch::PACKED_ENVELOPE}a*Va*x", 0, nil, "\x02s\x00".b,
                    big.bytesize + 1, big)
      else values.push(8, template, kind * 1000, nil, "\x10n\x00".b, kind)
      end
    end
    [1, :raises, 2, :refused, :far, :big, 3].each { |kind| batch.add_record(writer, kind) }
    expect([batch.count, batch.records]).to eq([7, 7])
    expect(batch.pack_records).to eq([3, 1])
    expect([batch.count, batch.records, batch.pack_records]).to eq([3, 0, [0, 0]])
    expected = [1, 2, 3].map { |n| { "type" => "app.bytes", "time" => Time.at(n), "host" => "web1", "n" => n } }
    expect(batch.body).to eq(expected.map { |document| document.to_bson.to_s }.join)
  end

  it "leaves a batch as it was when an event cannot be encoded or is too big" do
    envelope = Eventstorm::Batch.envelope("app.bytes", "web1")
    batch = Eventstorm::Batch.new("app.bytes", "web1", envelope)
    batch.add(Time.at(1), { n: 1 })
    before = batch.body
    expect { batch.add(Time.at(2), { a: 1, b: Object.new }) }
      .to raise_error(ArgumentError, /cannot be encoded as BSON/)
    expect(batch.add(Time.at(3), { big: "x" * Eventstorm::Batch::MAX_EVENT })).to be(false)
    expect(batch.add(Time.at(4), { host: "x", big: "x" * Eventstorm::Batch::MAX_EVENT }))
      .to be(false)
    expect([batch.count, batch.body]).to eq([1, before])
    batch.add(Time.at(5), { n: 5 })
    expect(BSON::Document.from_bson(BSON::ByteBuffer.new(batch.body.byteslice(before.bytesize..))))
      .to eq({ "type" => "app.bytes", "time" => Time.at(5), "host" => "web1", "n" => 5 })
  end

  # An exception from another thread lands between any two steps of Batch#add, and a second
  # one between any two steps after it: in the code that recovers from the first, say. A
  # TracePoint raises both into the thread (Thread#raise, so deferred regions defer them).
  # Each time, the body must hold exactly +count+ whole events, in order. Before the batch
  # committed an event in one assignment, a second exception in its rollback left half an
  # event in the body (79 of these 7,200 pairs), and receivers dropped the whole message.
  it "keeps a batch whole when exceptions from other threads land anywhere in Batch#add, twice" do
    path = File.expand_path("../lib/eventstorm/batch.rb", __dir__)
    envelope = Eventstorm::Batch.envelope("app.tick", "spec")
    writer = Object.new
    writer.define_singleton_method(:pack_record) do |n, values|
      values.push(8, "#{Eventstorm::Batch::PACKED_ENVELOPE}a*l<x", n, nil, "\x10n\x00".b, n)
    end
    broken = []
    steps = 0
    [false, true].each do |packed|
      result = raise_at_every_pair_of_steps(path: path, firsts: 1..90, reach: 40) do |pair|
        batch = Eventstorm::Batch.new("app.tick", "spec", envelope)
        batch.add(nil, { n: 0 })
        # Records packed onto a batch of packed events first, moved on the next add.
        if packed
          batch = Eventstorm::Batch.new("app.tick", "spec", envelope)
          batch.add_record(writer, 0)
          batch.pack_records
        end
        # An event, another after each exception.
        added = pair.attempt(times: 3) { |n| batch.add(nil, { n: n }) }
        batch.add(nil, { n: 9 }) # and one more, as the next emit would
        events = bson_documents(batch.body).map { |document| document["n"] }
        # An add that raised may have its event in (the exception came after the commit);
        # one that returned has it in.
        middle = events[1..-2]
        next if events.size == batch.count && events.first.zero? && events.last == 9 &&
                middle == middle.sort.uniq && (middle - [1, 2, 3]).empty? &&
                (added.nil? || middle.last == added)

        [batch.count, events]
      end
      broken.concat(result.broken.map { |pair| [packed, *pair] })
      steps = [steps, result.steps].max
    end
    expect(steps).to be > 40 # the pairs reach past the end of an add
    expect(broken).to be_empty, "#{broken.size} broken batches, e.g. #{broken.first(3)}"
  end

  it "counts every event exactly when exceptions from other threads come at any moment" do
    boom = Class.new(StandardError)
    collector = open_collector("@#{endpoint}")
    # Batches of 3: most calls find their batch full, take it out and send it.
    emitter = open_emitter(">#{endpoint}", host: "spec", batch_size: 3)
    received = collect(collector, timeout: 60) # its count, once known
    wait_until { emitter.stats[:subscribed] }
    attempts = 0
    returned = []
    refused = []
    emitting = interruptible(boom) do
      n = (attempts += 1)
      begin
        emitter.emit("app.tick", n: n)
        returned << n
      rescue ArgumentError => e
        refused << e.message
      end
    end
    raise_into(emitting, boom)
    emitting[:stop] = true
    emitting.join
    expect(emitter.flush(timeout: 10)).to be(true)
    stats = emitter.stats
    received[:count] = stats[:sent]
    started = Eventstorm.monotonic
    ns = received.value.map { |event| event["n"] }
    # A failure says which count is off: a message dropped as malformed (half an event in
    # it), a copy skipped as a duplicate, or the receiving thread out of time.
    report = lambda do
      collector.receive(timeout: 0.5) # a message after a dropped one reveals it as lost
      "emitter #{stats.except(:source, :pid)}, collector #{collector.stats}, received " \
        "#{ns.size} (#{(Eventstorm.monotonic - started).round(1)} s after the flush)"
    end
    # No event refused for an interruption; every call that returned counted; every event
    # counted sent or dropped (a full queue, on a loaded machine), each sent one delivered
    # once and each dropped one counted lost by the collector.
    expect(refused).to be_empty
    expect(stats[:emitted]).to be_between(returned.size, attempts)
    expect(stats).to include(oversized: 0, waiting: 0)
    expect(stats[:sent] + stats[:dropped]).to eq(stats[:emitted])
    expect(ns.size).to eq(stats[:sent]), report
    expect(ns.uniq.size).to eq(ns.size), report
    expect((returned - ns).size).to be <= stats[:dropped]
    emitter.close(timeout: 10) # its announcement reveals a loss at the very end
    wait_until(timeout: 10) do
      collector.receive(timeout: 0.1)
      collector.stats[:lost] >= stats[:dropped]
    end
    expect(collector.stats).to include(lost: stats[:dropped], duplicates: 0, events: ns.size)
    expect(collector.stats[:malformed]).to be_empty
  ensure
    emitting&.kill
  end

  it "a collector accounts for every event when exceptions from other threads come as it receives" do
    boom = Class.new(StandardError)
    total = 20_000
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec", batch_size: 10)
    delivered = 0
    receiving = interruptible(boom) { delivered += 1 if collector.receive(timeout: 0.05) }
    wait_until { emitter.stats[:subscribed] }
    raising = Thread.new { raise_into(receiving, boom) }
    total.times { |n| emitter.emit("app.tick", n: n) }
    raising.join
    emitter.close(timeout: 10) # its announcement reveals a loss at the very end
    # Sent, or dropped by a full queue on a loaded machine (the collector counts those lost).
    expect(emitter.stats.values_at(:sent, :dropped).sum).to eq(total)
    # Every event is delivered or counted lost (a message read just before an exception came
    # is lost, and counted as such when the stream goes on), none delivered uncounted.
    wait_until(timeout: 30) { collector.stats.values_at(:events, :lost).sum >= total }
    receiving[:stop] = true
    receiving.join
    stats = collector.stats
    expect(stats[:events] + stats[:lost]).to eq(total)
    expect(stats).to include(duplicates: 0, rejected: 0, malformed: {})
    expect(delivered).to be <= stats[:events]
  ensure
    receiving&.kill
  end

  it "keeps every message whole when a field's to_bson raises or an exception comes from outside" do
    stop = Class.new(StandardError)
    failing = Class.new do
      def bson_type
        String::BSON_TYPE
      end

      def to_bson(*)
        raise "no bytes for you"
      end
    end
    # Raises into the emitting thread while it is in the middle of encoding this field.
    interrupting = Class.new do
      define_method(:bson_type) { String::BSON_TYPE }
      define_method(:to_bson) do |buffer = BSON::ByteBuffer.new, *|
        target = Thread.current
        Thread.new { target.raise(stop, "from outside") }.join
        "sneaky".to_bson(buffer)
      end
    end
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec")
    received = collect(collector, 3)
    wait_until { emitter.stats[:subscribed] }
    emitter.emit("app.whole", n: 0)
    expect { emitter.emit("app.whole", n: 1, bad: failing.new) }
      .to raise_error(RuntimeError, "no bytes for you")
    emitter.emit("app.whole", n: 2)
    # The interrupted event is left out; the caller gets the exception.
    expect { emitter.emit("app.whole", n: 3, odd: interrupting.new) }
      .to raise_error(stop, "from outside")
    emitter.emit("app.whole", n: 4)
    expect(emitter.flush(timeout: 10)).to be(true)
    expect(received.value.map { |e| e["n"] }).to eq([0, 2, 4])
    expect(collector.stats).to include(lost: 0, rejected: 0, events: 3)
  end

  it "rejects an invalid type, a time receivers reject and an unknown endpoint clearly" do
    expect { described_class.new("udp://x:1") }.to raise_error(ArgumentError, /bad endpoint/)
    emitter = open_emitter(">#{endpoint}")
    expect { emitter.emit("Bad Type") }.to raise_error(ArgumentError, /invalid event type/)
    expect { emitter.emit("eventstorm.stats") }.to raise_error(ArgumentError, /reserved/)
    far = Time.at(8_640_000_000_000, 1, :millisecond)
    expect { emitter.emit("app.far", time: far) }.to raise_error(ArgumentError, /8\.64e15 ms/)
    expect { emitter.emit("app.far", time: Time.at(-8_640_000_000_000)) }.not_to raise_error
    emitter.emit("app.big", blob: "x" * (2 << 20))
    expect(emitter.stats).to include(emitted: 2, oversized: 1, waiting: 1)
    emitter.close(timeout: 0)
    expect { emitter.emit("app.x") }.to raise_error(Eventstorm::Error, /closed/)
  end

  it "refuses what every receiver rejects: a time that is not one, far dates, deep nesting" do
    require "date"
    emitter = open_emitter(">#{endpoint}", host: "spec")
    far = Time.at(0, Eventstorm::Protocol::MAX_DATE_MS + 1, :millisecond)
    deep = ->(levels) { (1...levels).reduce(1) { |inner, _| { "d" => inner } } }
    refused = {
      "an Integer time" => -> { emitter.emit("app.t", time: 1_700_000_000_000) },
      "a String time" => -> { emitter.emit("app.t", time: "2024-01-01T00:00:00Z") },
      "a far DateTime time" => -> { emitter.emit("app.t", time: DateTime.new(300_000, 1, 1)) },
      "a far Date time" => -> { emitter.emit("app.t", time: Date.new(-300_000, 1, 1)) },
      "a far Time field" => -> { emitter.emit("app.t", at: Time.at(9e12)) },
      "a far DateTime in an Array" => -> { emitter.emit("app.t", at: [1, { "x" => DateTime.new(300_000, 1, 1) }]) },
      "a far Date field" => -> { emitter.emit_hash("app.t", { "on" => Date.new(300_000, 1, 1) }) },
      "a far date beside a host field" => -> { emitter.emit("app.t", host: "h", at: far) },
      "a String time field" => -> { emitter.emit_hash("app.t", { "time" => "now" }) },
      "a host field that is no String" => -> { emitter.emit_hash("app.t", { host: 7 }) },
      "101 levels" => -> { emitter.emit("app.t", deep: deep.call(101)) },
      "120 levels of Arrays" => -> { emitter.emit("app.t", deep: (1...120).reduce(1) { |inner, _| [inner] }) },
      "101 levels beside a host field" => -> { emitter.emit("app.t", host: "h", deep: deep.call(101)) }
    }
    refused.each do |what, call|
      expect { call.call }.to raise_error(ArgumentError), what
    end
    expect(emitter.stats).to include(emitted: 0, waiting: 0)

    # At the edges, and the Int64 the date check must not take for a date.
    collector = open_collector("@#{endpoint}")
    received = collect(collector, 6)
    wait_until { emitter.stats[:subscribed] }
    edge = Time.at(0, -Eventstorm::Protocol::MAX_DATE_MS, :millisecond)
    emitter.emit("app.t", n: 1, at: edge, deep: deep.call(100)) # 100 levels, the event one
    emitter.emit("app.t", n: 2, time: DateTime.new(2001, 2, 3, 4, 5, 6))
    emitter.emit("app.t", n: 3, time: Date.new(2001, 2, 3))
    emitter.emit("app.t", n: 4, big: BSON::Int64.new(2**62))
    emitter.emit("app.t", n: 5, host: "h", at: [DateTime.new(2001, 2, 3)], on: Date.new(1969, 12, 31))
    emitter.emit("app.t", n: 6, time: edge)
    expect(emitter.flush(timeout: 10)).to be(true)
    events = received.value
    expect(events.map { |e| e["n"] }).to eq([1, 2, 3, 4, 5, 6])
    expect(events[0]["at"]).to eq(edge)
    expect(events[1]["time"]).to eq(Time.utc(2001, 2, 3, 4, 5, 6))
    expect(events[2]["time"]).to eq(Time.utc(2001, 2, 3))
    expect(events[3]["big"]).to eq(2**62)
    expect(events[4]).to include("host" => "h", "at" => [Time.utc(2001, 2, 3)],
                                 "on" => Time.utc(1969, 12, 31))
    expect(collector.stats).to include(events: 6, rejected: 0)
  end

  def ipv6_loopback?
    TCPServer.new("::1", 0).close
    true
  rescue SystemCallError
    false
  end

  it "speaks IPv6: tcp://[::1]:PORT binds and connects" do
    skip "no ::1 here" unless ipv6_loopback?
    endpoint = "tcp://[::1]:#{free_port}"
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec")
    received = collect(collector, 3)
    wait_until(timeout: 10) { emitter.stats[:subscribed] }
    3.times { |n| emitter.emit("app.six", n: n) }
    expect(emitter.flush(timeout: 10)).to be(true)
    expect(received.value.map { |e| e["n"] }).to eq([0, 1, 2])
  end

  it "a collector that binds refuses a source claimed by another peer than its owner" do
    skip "no ::1 here" unless ipv6_loopback?
    port = free_port
    # [::] takes IPv4 peers too (* would be IPv4 only).
    collector = open_collector("@tcp://[::]:#{port}")
    context = ZMQ::Context.new
    # Two peers with addresses of their own, 127.0.0.1 and ::1, send under one source id.
    peers = %W[>tcp://127.0.0.1:#{port} >tcp://[::1]:#{port}].map do |to|
      Eventstorm::Sockets.open(context, ZMQ::XPUB, to, options: { ZMQ::LINGER => 0 })
    end
    received = collect(collector, 2, timeout: 5)
    peers.each { |peer| wait_until(timeout: 10) { Eventstorm::Sockets.receive_frames(peer) } }
    event = ->(n) { { "type" => "app.own", "time" => Time.now, "host" => "h", "n" => n } }
    [[0, 0], [1, 1], [0, 1]].each do |peer, n|
      frames = Eventstorm::Protocol.encode(topic: "app.own", events: [event.call(n)], source: 77,
                                           first: n)
      Eventstorm::Sockets.send_frames(peers[peer], frames)
      sleep 0.2
    end
    expect(received.value.map { |e| e["n"] }).to eq([0, 1])
    # The refused one came by another connection: it may be read after the last.
    wait_until(timeout: 10) { collector.receive(timeout: 0.05) || collector.stats[:malformed]["owner"] }
    expect(collector.stats).to include(events: 2, lost: 0, malformed: { "owner" => 1 })
  ensure
    peers&.each(&:close)
    context&.terminate
  end

  it "refuses options of the wrong type or out of range in one line, before opening anything" do
    bad = [[:linger, "0.05"], [:batch_size, "100"], [:hold, -1], [:high_water_mark, 2**31],
           [:batch_size, 0], [:linger, Float::NAN], [:batch_bytes, 32 << 20], [:close_at_exit, "2"]]
    bad.each do |name, value|
      expect { described_class.new(">#{endpoint}", name => value) }
        .to raise_error(ArgumentError, /\A#{name}: expected .*, not #{Regexp.escape(value.inspect)}\z/)
    end
    expect { described_class.new("localhost:5555") }.to raise_error(ArgumentError, /bad endpoint/)
    expect { described_class.new(nil) }.to raise_error(ArgumentError, /no endpoint/)
    expect { described_class.new("@tcp://203.0.113.1:5555") }.to raise_error(Eventstorm::Error, /bind/)
    emitter = open_emitter(">#{endpoint}", linger: 0, close_at_exit: false)
    expect { emitter.emit_hash("app.keys", { nil => 1 }) }.to raise_error(ArgumentError, /BSON/)
  end

  it "keeps its background thread going after an unexpected error, and counts it" do
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", linger: 0.01)
    received = collect(collector, 1)
    failures = 0
    allow(emitter).to receive(:warn)
    allow(emitter).to receive(:send_held).and_wrap_original do |original, *args|
      raise "unexpected" if (failures += 1) <= 2

      original.call(*args)
    end
    wait_until { emitter.stats[:thread_errors] == 2 }
    emitter.emit("app.on", n: 1) # sent by the thread once aged: no flush
    expect(received.value.map { |e| e["n"] }).to eq([1])
    expect(emitter).to have_received(:warn).once
  end

  it "is not held up by the announcements of thousands of idle topics" do
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec", close_at_exit: false)
    draining = Thread.new { nil until collector.receive(timeout: 0.3).nil? && emitter.closed? }
    wait_until { emitter.stats[:subscribed] }
    topics = 3000
    topics.times { |n| emitter.emit("app.t#{n}", n: n) }
    expect(emitter.flush(timeout: 10)).to be(true)
    # The announcements sent while the lock emit needs is held, counted for each hold of
    # it: all of the topics at once, when the background thread sent them in one go (about
    # 40 ms here, which an emit then waited), one group at most now.
    lock = emitter.instance_variable_get(:@mutex)
    sent = -> { emitter.instance_variable_get(:@stats)[:announcements] }
    per_hold = []
    lock.singleton_class.prepend(Module.new do
      define_method(:synchronize) do |&block|
        super() do
          before = sent.call
          result = block.call
          per_hold << sent.call - before
          result
        end
      end
    end)
    wait_until(timeout: 30) { emitter.stats[:announcements] >= topics }
    expect(per_hold.max).to be_between(1, 64)
  ensure
    emitter&.close(timeout: 0)
    draining&.join
  end

  it "writes a host name that is not UTF-8 (Socket.gethostname's bytes) as UTF-8" do
    allow(Socket).to receive(:gethostname).and_return("web-caf\xC3\xA9".b)
    collector = open_collector("@#{endpoint}")
    hosts = [nil, "bad-\xE9".b, "caf\xE9".dup.force_encoding(Encoding::ISO_8859_1), :sym]
    emitters = hosts.map do |host|
      host.nil? ? open_emitter(">#{endpoint}") : open_emitter(">#{endpoint}", host: host)
    end
    expect(emitters.map(&:host)).to eq(["web-caf\u00e9", "bad-\uFFFD", "caf\u00e9", "sym"])
    received = collect(collector, 4)
    emitters.each_with_index do |emitter, n|
      wait_until { emitter.stats[:subscribed] }
      emitter.emit("app.host", n: n)
      expect(emitter.flush(timeout: 10)).to be(true)
    end
    expect(received.value.sort_by { |e| e["n"] }.map { |e| e["host"] }).to eq(emitters.map(&:host))
    expect { open_emitter(">#{endpoint}", host: 7) }.to raise_error(ArgumentError, /host/)
  end

  it "bounds the bytes it holds while no subscriber is there, counting what it drops" do
    emitter = open_emitter(">#{endpoint}", batch_size: 1, hold: 1000, hold_bytes: 10_000,
                                           close_at_exit: false)
    20.times { |n| emitter.emit("app.held", n: n, pad: "x" * 1000) }
    stats = emitter.stats
    expect(stats).to include(emitted: 20, waiting: 9, overflow: 11)
    # The held ones go once a subscriber is there.
    collector = open_collector("@#{endpoint}")
    received = collect(collector, 9)
    expect(emitter.flush(timeout: 10)).to be(true)
    expect(received.value.map { |e| e["n"] }).to eq((0...9).to_a)
  end

  it "keeps the last of a key given twice (\"a\" and :a), on every path, as receivers read it" do
    collector = open_collector("@#{endpoint}")
    emitter = open_emitter(">#{endpoint}", host: "spec")
    received = collect(collector, 2)
    wait_until { emitter.stats[:subscribed] }
    emitter.emit_hash("app.dup", { "a" => 1, a: 2 })
    emitter.emit_hash("app.dup", { "a" => 1, a: 2, host: "other" }) # written as a whole Hash
    expect(emitter.flush(timeout: 10)).to be(true)
    expect(received.value.map { |e| e["a"] }).to eq([2, 2])
  end
end

