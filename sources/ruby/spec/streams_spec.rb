# frozen_string_literal: true

require_relative "spec_helper"

# The receiver's accounting, checked against what core/sequence.ts answers for the same
# messages (docs/protocol.md section 5, docs/security-notes.md).
RSpec.describe Eventstorm::Streams do
  let(:now) { [1000.0] }
  let(:streams) { described_class.new(clock: -> { now[0] }) }

  def account(first, count, source: 7, topic: "app.x", owner: nil)
    streams.account(source: source, topic: topic, first: first, count: count, owner: owner)
  end

  it "ignores a position announcement of a stream never seen, and joins at its first events" do
    expect(account(100, 0)).to eq([0, 0, nil])
    expect(streams.size).to eq(0)
    # A source replaying from its checkpoint: events it never had are no duplicates.
    expect(account(90, 10)).to eq([0, 0, nil])
    expect(account(100, 0)).to eq([0, 0, nil])
    expect(account(150, 1)).to eq([50, 0, nil])
    expect(account(148, 5)).to eq([0, 3, nil])
    expect(account(160, 0)).to eq([7, 0, nil])
    expect(streams.size).to eq(1)
  end

  it "refuses an index jump no sender can make, leaving the stream where it was" do
    expect(account(0, 1)).to eq([0, 0, nil])
    expect(account((2**53) - 2, 1)).to eq([0, 0, "index"])
    limit = described_class::MAX_INDEX_JUMP
    expect(account(1 + limit + 1, 1)).to eq([0, 0, "index"])
    expect(account(1 + limit, 1)).to eq([limit, 0, nil])
    # The bound grows with the time since the stream's previous message: 3.5 times it here.
    now[0] += 2.5
    expected = limit + 2
    expect(account(expected + (4 * limit), 1)).to eq([0, 0, "index"])
    expect(account(expected + (3 * limit), 1)).to eq([3 * limit, 0, nil])
  end

  it "gives a source to the first peer that uses it until it is silent for ten minutes" do
    expect(account(0, 1, owner: "10.0.0.1")).to eq([0, 0, nil])
    expect(account(1, 1, owner: "10.0.0.2")).to eq([0, 0, "owner"])
    expect(account(1, 1, topic: "app.y", owner: "10.0.0.2")).to eq([0, 0, "owner"])
    expect(account(1, 1)).to eq([0, 0, nil]) # a peer nobody names is not judged
    now[0] += described_class::OWNER_IDLE - 1
    expect(account(2, 1, owner: "10.0.0.2")).to eq([0, 0, "owner"])
    expect(account(2, 1, owner: "10.0.0.1")).to eq([0, 0, nil])
    now[0] += described_class::OWNER_IDLE
    expect(account(3, 1, owner: "10.0.0.2")).to eq([0, 0, nil])
    expect(account(4, 1, owner: "10.0.0.1")).to eq([0, 0, "owner"])
  end

  it "forgets the least recently seen stream beyond its limit" do
    streams = described_class.new(limit: 2)
    streams.account(source: 1, topic: "a", first: 0, count: 1)
    streams.account(source: 2, topic: "a", first: 0, count: 1)
    streams.account(source: 1, topic: "a", first: 1, count: 1)
    streams.account(source: 3, topic: "a", first: 0, count: 1)
    expect(streams.size).to eq(2)
    expect(streams.account(source: 1, topic: "a", first: 2, count: 1)).to eq([0, 0, nil])
    # Source 2 was forgotten: joined again where it is.
    expect(streams.account(source: 2, topic: "a", first: 5, count: 1)).to eq([0, 0, nil])
  end

  it "counts a jump lost at once without gap_hold (one endpoint), and later copies as duplicates" do
    expect(account(0, 10)).to eq([0, 0, nil])
    expect(account(20, 10)).to eq([10, 0, nil])
    expect(streams.lost).to eq(10)
    expect(account(10, 10)).to eq([0, 10, nil])
    now[0] += 60
    expect(streams.lost).to eq(10)
  end

  it "allocates nothing in the in-order case but the stream's key" do
    account(0, 1)
    before = GC.stat(:total_allocated_objects)
    (1..1000).each { |i| streams.account(source: 7, topic: "app.x", first: i, count: 1) }
    # One per call (the key); the verdict of an in-order message is a frozen constant.
    expect(GC.stat(:total_allocated_objects) - before).to be < 1100
  end

  context "with gap_hold (redundant paths, docs/protocol.md 5.2)" do
    let(:streams) { described_class.new(clock: -> { now[0] }, gap_hold: 10) }

    it "holds a jump as a gap that the other path's copies fill, delivered, not duplicates" do
      expect(account(0, 10)).to eq([0, 0, nil])
      expect(account(20, 10)).to eq([0, 0, nil]) # the fast path jumps: nothing lost yet
      expect(streams.lost).to eq(0)
      expect(account(0, 10)).to eq([0, 10, nil]) # the slow path: what both had is a duplicate
      expect(account(10, 10)).to eq([0, 0, nil]) # and what only it had fills the gap
      expect(account(20, 10)).to eq([0, 10, nil])
      expect(account(10, 10)).to eq([0, 10, nil]) # filled once: a third copy is a duplicate
      now[0] += 60
      expect(streams.lost).to eq(0)
    end

    it "delivers the parts of a message in a gap or past the expected index, closing them" do
      account(0, 10)
      account(30, 5) # gap [10, 30)
      expect(account(15, 5)).to eq([0, 0, nil]) # gaps [10, 15) and [20, 30) left
      # 12-14 fill, 15-19 are duplicates, 20-21 fill: gaps [10, 12) and [22, 30) left.
      expect(account(12, 10)).to eq([0, 5, nil, [0...3, 8...10]])
      # 5-9 duplicates, 10-11 fill, 12-21 duplicates, 22-29 fill, 30-34 duplicates, 35-44 new.
      expect(account(5, 40)).to eq([0, 20, nil, [5...7, 17...25, 30...40]])
      expect(account(10, 35)).to eq([0, 35, nil])
      # A gap just below the expected index (an announcement's) and the new events after
      # it: one piece.
      expect(account(50, 0)).to eq([0, 0, nil]) # gap [45, 50)
      expect(account(47, 10)).to eq([0, 0, nil])
      expect(account(45, 2)).to eq([0, 0, nil])
      expect(account(44, 2)).to eq([0, 2, nil])
      now[0] += 60
      expect(streams.lost).to eq(0)
    end

    it "counts a gap still open after the hold lost, once, even with no message since" do
      account(0, 1)
      account(5, 1) # gap [1, 5) opened now
      now[0] += 5
      account(3, 1) # splits it: [1, 3) and [4, 5), both as old as the gap
      now[0] += 4.999
      expect(streams.lost).to eq(0)
      now[0] += 0.001
      expect(streams.lost).to eq(3)
      expect(streams.lost).to eq(3)
      expect(account(1, 4)).to eq([0, 4, nil]) # too late: a duplicate, never also delivered
      now[0] += 60
      expect(streams.lost).to eq(3)
      # Expired by a later message of the stream just as well.
      account(10, 1) # gap [6, 10)
      now[0] += 10
      expect(account(11, 1)).to eq([0, 0, nil])
      expect(streams.lost).to eq(7)
    end

    it "keeps at most MAX_GAPS gaps a stream, counting the oldest lost when one more opens" do
      account(0, 1)
      (1..described_class::MAX_GAPS).each { |i| account(2 * i, 1) } # gaps [1, 2), [3, 4) …
      expect(streams.lost).to eq(0)
      account(2 * (described_class::MAX_GAPS + 1), 1)
      expect(streams.lost).to eq(1)
      expect(account(1, 1)).to eq([0, 1, nil]) # counted lost: no longer a gap to fill
      expect(account(3, 1)).to eq([0, 0, nil])
    end

    it "counts a copy later than the hold a duplicate, though nobody read lost" do
      account(0, 10)
      account(15, 5) # gap [10, 15)
      now[0] += 10
      expect(account(10, 5)).to eq([0, 5, nil])
      expect(streams.lost).to eq(5)
    end

    it "keeps the gaps a stream's fills split bounded too, the oldest lost first" do
      account(0, 1)
      account(10_000, 1) # one gap: [1, 10000)
      # Every other event fills a piece of it and splits what is left.
      (0..described_class::MAX_GAPS).each { |i| expect(account(2 + (2 * i), 1)).to eq([0, 0, nil]) }
      expect(streams.lost).to eq(2) # MAX_GAPS + 2 pieces: [1, 2) and [3, 4) are lost
      expect(account(1, 1)).to eq([0, 1, nil])
      expect(account(3, 1)).to eq([0, 1, nil])
      expect(account(5, 1)).to eq([0, 0, nil])
    end

    it "counts every open gap lost when the receiver stops, once" do
      account(0, 10)
      account(15, 5) # gap [10, 15)
      account(30, 1) # gap [20, 30)
      streams.close_gaps
      expect(streams.lost).to eq(15)
      now[0] += 60
      expect(streams.lost).to eq(15)
      expect(account(10, 5)).to eq([0, 5, nil])
    end

    it "counts the open gaps of a stream it forgets lost" do
      streams = described_class.new(limit: 2, clock: -> { now[0] }, gap_hold: 10)
      streams.account(source: 1, topic: "a", first: 0, count: 1)
      streams.account(source: 1, topic: "a", first: 10, count: 1)
      streams.account(source: 2, topic: "a", first: 0, count: 1)
      expect(streams.lost).to eq(0)
      streams.account(source: 3, topic: "a", first: 0, count: 1)
      expect(streams.lost).to eq(9)
      now[0] += 60
      expect(streams.lost).to eq(9)
    end

    it "refuses a bad gap_hold" do
      expect { described_class.new(gap_hold: -1) }.to raise_error(ArgumentError, /gap_hold/)
      expect { described_class.new(gap_hold: "10") }.to raise_error(ArgumentError, /gap_hold/)
    end
  end

  describe "a collector" do
    let(:event) { ->(n) { { "type" => "app.x", "time" => Time.at(n), "host" => "h", "n" => n } } }

    def message(first, count)
      events = Array.new(count) { |i| event.call(first + i) }
      Eventstorm::Protocol.encode(topic: "app.x", events: events, source: 9, first: first)
    end

    def delivered(collector, first, count)
      collector.handle(message(first, count)).map { |e| e["n"] }
    end

    it "given several endpoints, holds gaps and delivers a message's events in gaps as pieces" do
      collector = Eventstorm::Collector.new(%w[@inproc://streams-a @inproc://streams-b])
      expect(delivered(collector, 0, 2)).to eq([0, 1])
      expect(delivered(collector, 5, 2)).to eq([5, 6])
      expect(delivered(collector, 8, 2)).to eq([8, 9])
      expect(delivered(collector, 0, 10)).to eq([2, 3, 4, 7])
      expect(collector.stats).to include(events: 10, lost: 0, duplicates: 6)
      delivered(collector, 12, 1) # gap [10, 12), still held
      collector.close
      expect(collector.stats).to include(lost: 2) # nothing can fill it now
    ensure
      collector&.close
    end

    it "tells each delivered event's topic, source and index: pieces, rejects and no header" do
      collector = Eventstorm::Collector.new(%w[@inproc://streams-h @inproc://streams-i])
      delivered(collector, 0, 2)
      delivered(collector, 5, 2) # [2, 5) held
      wrong = event.call(8).merge("type" => "app.y")
      collector.handle(Eventstorm::Protocol.encode(topic: "app.x", source: 9, first: 7,
                                                   events: [event.call(7), wrong, event.call(9)]))
      delivered(collector, 0, 10) # fills [2, 5); 0, 1 and 5 to 9 are duplicates
      collector.handle(["app.x", event.call(42).to_bson.to_s]) # two frames: no stream
      expect(collector.receive(timeout: 0)["n"]).to eq(0) # the two ways mix
      deliveries = collector.each_delivery(timeout: 0).map do |delivery|
        [delivery.event["n"], delivery.topic, delivery.source, delivery.index]
      end
      expect(deliveries).to eq([[1, "app.x", 9, 1], [5, "app.x", 9, 5], [6, "app.x", 9, 6],
                                [7, "app.x", 9, 7], [9, "app.x", 9, 9], [2, "app.x", 9, 2],
                                [3, "app.x", 9, 3], [4, "app.x", 9, 4],
                                [42, "app.x", nil, nil]])
      expect(collector.stats).to include(events: 10, rejected: 1, duplicates: 7, unaccounted: 1)
      expect(collector.receive_delivery(timeout: 0)).to be_nil
      delivered(collector, 10, 1)
      document, topic, source, index = *collector.receive_delivery(timeout: 0)
      expect([document["n"], topic, source, index]).to eq([10, "app.x", 9, 10])
    ensure
      collector&.close
    end

    it "given one endpoint counts a jump lost at once; gap_hold: chooses otherwise" do
      collector = Eventstorm::Collector.new("@inproc://streams-c")
      delivered(collector, 0, 2)
      expect(delivered(collector, 5, 2)).to eq([5, 6])
      expect(delivered(collector, 0, 10)).to eq([7, 8, 9])
      expect(collector.stats).to include(lost: 3, duplicates: 7)
      collector.close

      collector = Eventstorm::Collector.new(%w[@inproc://streams-d @inproc://streams-e],
                                            gap_hold: 0)
      delivered(collector, 0, 2)
      delivered(collector, 5, 2)
      expect(collector.stats).to include(lost: 3)
      collector.close

      collector = Eventstorm::Collector.new("@inproc://streams-f", gap_hold: 0.2)
      delivered(collector, 0, 2)
      delivered(collector, 5, 2)
      expect(collector.stats).to include(lost: 0)
      # Counted when the hold is over, though nothing arrives.
      expect(wait_until(timeout: 10) { collector.stats[:lost].positive? && collector.stats[:lost] })
        .to eq(3)
      expect { Eventstorm::Collector.new("@inproc://streams-g", gap_hold: "10") }
        .to raise_error(ArgumentError, /gap_hold/)
    ensure
      collector&.close
    end
  end

  it "a collector counts refused messages as malformed, by reason, and delivers nothing of them" do
    collector = Eventstorm::Collector.new("@inproc://streams-spec")
    event = ->(n) { { "type" => "app.x", "time" => Time.at(n), "host" => "h", "n" => n } }
    message = ->(first, source: 9) do
      Eventstorm::Protocol.encode(topic: "app.x", events: [event.call(first)], source: source,
                                  first: first)
    end
    announce = ["app.x", Eventstorm::Protocol.header(count: 0, source: 9, first: 100), ""]
    expect(collector.handle(announce)).to be_empty
    expect(collector.handle(message.call(0), owner: "a").size).to eq(1)
    expect(collector.handle(message.call((2**53) - 2), owner: "a")).to be_empty
    expect(collector.handle(message.call(1), owner: "b")).to be_empty
    expect(collector.handle(message.call(1), owner: "a").size).to eq(1)
    expect(collector.stats).to include(messages: 3, events: 2, lost: 0, duplicates: 0,
                                       announcements: 1, streams: 1,
                                       malformed: { "index" => 1, "owner" => 1 })
  ensure
    collector&.close
  end
end
