# frozen_string_literal: true

require_relative "spec_helper"

# Step 6 of docs/protocol.md: a document nested deeper than 100 levels, or holding a date
# more than 8.64e15 ms from the epoch, is rejected one by one; its message is delivered.
RSpec.describe "documents past the protocol's limits" do
  # `{a: {a: ... {} ...}}` with +levels+ documents in all, built as bytes: bson-ruby
  # recurses and cannot write 100,000 levels.
  def nested(levels)
    depth = levels - 1
    total = 5 + (8 * depth)
    out = ("\0" * total).b
    (0..depth).each do |i|
      out[7 * i, 4] = [total - (8 * i)].pack("l<")
      break if i == depth

      out.setbyte((7 * i) + 4, 0x03)
      out.setbyte((7 * i) + 5, "a".ord)
    end
    out
  end

  def event(fields = {}, time: Time.at(1_733_300_000))
    { "type" => "app.x", "time" => time, "host" => "h" }.merge(fields).to_bson.to_s
  end

  # An event whose field `deep` nests +levels+ documents below the top level.
  def deep_event(levels)
    envelope = event.byteslice(4...-1)
    element = "\x03deep\0".b + nested(levels)
    body = envelope + element
    [body.bytesize + 5].pack("l<") + body + "\0"
  end

  it "measures depth at the limit, past it, and 100,000 deep without recursion" do
    expect(Eventstorm::Protocol.deeper_than?(nested(100), 100)).to be(false)
    expect(Eventstorm::Protocol.deeper_than?(nested(101), 100)).to be(true)
    expect(Eventstorm::Protocol.deeper_than?(nested(100_000), 100)).to be(true)
    expect(Eventstorm::Protocol.decode(nested(100))).to be_a(BSON::Document)
    expect { Eventstorm::Protocol.decode(nested(100_000)) }
      .to raise_error(Eventstorm::Protocol::Invalid) { |error| expect(error.reason).to eq("depth") }
  end

  it "rejects each such document, delivers the others and never raises" do
    documents = [
      event({ "n" => 1 }),
      deep_event(100), # 101 levels with the top
      deep_event(100_000),
      event(time: Time.at(8_640_000_000_000, 1, :millisecond)),
      event({ "at" => [{ "when" => Time.at(-8_640_000_000_001) }] }),
      event({ "n" => 2, "at" => [Time.at(-8_640_000_000_000)] }), # at the edge
      deep_event(99) # 100 levels
    ]
    header = Eventstorm::Protocol.header(count: documents.size, source: 5, first: 0)
    collector = Eventstorm::Collector.new("@inproc://limits")
    events = collector.handle(["app.x", header, documents.join.b])
    expect(events.map { |e| e["n"] }).to eq([1, 2, nil])
    expect(events.last.dig("deep", "a", "a")).to be_a(Hash)
    expect(collector.stats).to include(events: 3, rejected: 4)
    expect(collector.stats[:malformed]).to be_empty
  ensure
    collector&.close
  end

  it "stops at a length that points back into the document instead of walking it for ever" do
    bytes = event({ "doc" => { "s" => "abc" }, "s" => "abc" })
    top_string = bytes.bytesize - 9 # the last string's length: "abc\0", then the end
    doc = top_string - 3 - 16 # the 16-byte `doc` before the last string's type and name
    nested_string = doc + 4 + 3 # inside `doc`: after its length, type, "s", NUL
    [[nested_string, -7], [top_string, -7], [nested_string, -100], [doc, 5], [doc, -20]].each do |at, length|
      copy = bytes.dup
      copy[at, 4] = [length].pack("l<")
      expect(Eventstorm::Protocol.deeper_than?(copy, 100)).to be(false)
      header = Eventstorm::Protocol.header(count: 1, source: 6, first: 0)
      collector = Eventstorm::Collector.new("@inproc://back-#{at}-#{length}")
      expect(collector.handle(["app.x", header, copy])).to be_empty
      expect(collector.stats[:malformed]).to eq("bson" => 1)
    ensure
      collector&.close
    end
  end
end
