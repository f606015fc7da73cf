# frozen_string_literal: true

require_relative "spec_helper"

# One source publishing to two of the project's real routers, and a Ruby collector
# subscribed to both (docs/protocol.md 5.2): what one path misses and the other carries is
# delivered once, what both miss is lost once the hold is over.
RSpec.describe "redundant paths through two routers" do
  let(:sources) { [free_port, free_port] }
  let(:sinks) { [free_port, free_port] }
  let(:received) { [] }

  def both(ports)
    ports.map { |port| ">tcp://127.0.0.1:#{port}" }
  end

  # Reads events into +received+ until the block holds.
  def receive_until(collector, timeout: 60)
    wait_until(timeout: timeout, step: 0) do
      yield || ((event = collector.receive(timeout: 0.1)) && received << event && false)
    end
  end

  def numbers
    received.map { |event| event["n"] }
  end

  it "delivers once what one path missed and the other, lagging, still held: nothing lost" do
    lagging, = router(sources[0], sinks[0])
    collector = Eventstorm::Collector.new(both(sinks), prefixes: ["app."], gap_hold: 300)
    emitter = Eventstorm::Emitter.new(both(sources), host: "rspec", batch_size: 10)
    sent = 0
    emit = lambda do |count|
      count.times do
        emitter.emit("app.paths", n: sent)
        sent += 1
      end
      expect(emitter.flush(timeout: 90)).to be(true)
    end

    emit.call(20) # through the first router alone: the second is not there yet
    receive_until(collector, timeout: 90) { received.size == 20 }

    # The first router lags (stopped, it holds what it is sent); the second, started only
    # now, misses 20...50.
    Process.kill("STOP", -lagging)
    emit.call(30)
    router(sources[1], sinks[1])
    # What arrives now came through the second router: its path is up. Each probe sent
    # before that is in the first router's hands alone.
    wait_until(timeout: 90, step: 0) do
      emit.call(1)
      (event = collector.receive(timeout: 0.5)) && received << event
    end
    emit.call(30)
    receive_until(collector) { numbers.include?(sent - 1) }
    expect(collector.stats).to include(lost: 0, duplicates: 0)
    # The lagging router holds a copy of each, besides 20...50 and the probes the other
    # path missed.
    copies = received.size - 20

    Process.kill("CONT", -lagging)
    receive_until(collector) do
      received.size == sent && collector.stats[:duplicates] == copies
    end
    expect(collector.receive(timeout: 0.5)).to be_nil
    expect(numbers.sort).to eq((0...sent).to_a)
    # 20...50 filled the gap, late, after events with higher indexes.
    expect(numbers.index(20)).to be > numbers.index(sent - 1)
    expect(collector.stats).to include(lost: 0, duplicates: copies, events: sent, streams: 1)
    expect(emitter.stats).to include(dropped: 0, overflow: 0, unwanted: 0)
  ensure
    emitter&.close(timeout: 0)
    collector&.close
  end

  it "counts what both paths miss lost once the hold is over, and never also delivers it" do
    sources.zip(sinks).each { |from, to| router(from, to) }
    hold = 2.0
    collector = Eventstorm::Collector.new(both(sinks), prefixes: ["app."], gap_hold: hold)
    # A hand-made source, to skip 10...20 on both paths as a sender that dropped them would.
    context = ZMQ::Context.new
    sender = context.socket(ZMQ::XPUB)
    # Each router's subscription, not only the first (ffi-rzmq does not know the option).
    verbose = FFI::MemoryPointer.new(:int).write_int(1)
    LibZMQ.zmq_setsockopt(sender.socket, ZMQ::XPUB_VERBOSE, verbose, verbose.size)
    sender.setsockopt(ZMQ::LINGER, 0)
    both(sources).each { |endpoint| sender.connect(endpoint.delete_prefix(">")) }
    subscribed = 0
    wait_until(timeout: 90) do
      frame = +""
      while sender.recv_string(frame, ZMQ::DONTWAIT) >= 0
        subscribed += 1 if frame.getbyte(0) == 1 && "app.paths".start_with?(frame[1..])
      end
      subscribed == 2 # both routers forward the collector's subscription
    end
    source = rand(1...(2**63))
    publish = lambda do |first, count|
      events = Array.new(count) do |i|
        { "type" => "app.paths", "time" => Time.now, "host" => "rspec", "n" => first + i }
      end
      frames = Eventstorm::Protocol.encode(topic: "app.paths", events: events, source: source,
                                           first: first)
      expect(sender.send_strings(frames)).to be >= 0
    end

    publish.call(0, 10)
    publish.call(20, 10)
    receive_until(collector) { received.size == 20 }
    # Read while the gap is held: the check cannot lag behind the hold itself.
    expect(collector.stats[:lost]).to eq(0)
    opened = Eventstorm.monotonic # the gap opened before this
    receive_until(collector) { collector.stats[:duplicates] == 20 } # the other path's copies
    # Counted when the hold is over, with no message since, once.
    lost = wait_until(timeout: 30) { collector.stats[:lost].positive? && collector.stats[:lost] }
    expect(lost).to eq(10)
    expect(Eventstorm.monotonic - opened).to be > hold - 0.5
    # Copies of the gap arriving after the hold are duplicates, never also delivered.
    publish.call(10, 10)
    publish.call(30, 1)
    receive_until(collector) { numbers.include?(30) }
    receive_until(collector) { collector.stats[:duplicates] == 41 }
    expect(collector.receive(timeout: 0.5)).to be_nil
    expect(numbers.sort).to eq([*0...10, *20..30])
    expect(collector.stats).to include(lost: 10, duplicates: 41, events: 21)
  ensure
    sender&.close
    context&.terminate
    collector&.close
  end
end
