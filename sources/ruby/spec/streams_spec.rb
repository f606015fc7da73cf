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
