# frozen_string_literal: true

require_relative "spec_helper"

VECTORS = Dir[File.join(ProjectProcesses::ROOT, "docs/vectors/*.json")].sort

RSpec.describe "docs/vectors" do
  it "holds the contract's vectors" do
    expect(VECTORS.size).to be >= 20
  end

  VECTORS.each do |path|
    vector = JSON.parse(File.read(path))
    expect_ = vector.fetch("expect")
    frames = vector.fetch("frames").map { |hex| [hex].pack("H*") }
    name = File.basename(path, ".json")

    it "#{name}: a collector delivers and counts what the vector says" do
      collector = Eventstorm::Collector.new("@inproc://vectors-#{name}")
      events = collector.handle(frames)
      stats = collector.stats
      if expect_["valid"]
        expect(events.map { |e| e["host"] }).to eq(expect_["events"].map { |e| e["host"] })
        expect(events.size).to eq(expect_["events"].size)
        expect(stats[:rejected]).to eq(expect_["rejected"])
        expect(stats[:malformed]).to be_empty
        if expect_["header"]
          message = Eventstorm::Protocol.parse(frames)
          expect(message.source.to_s).to eq(expect_["header"]["source"])
          expect(message.first.to_s).to eq(expect_["header"]["first"])
          expect(message.count).to eq(expect_["header"]["count"])
        end
        expect(message_topic(frames)).to eq(expect_["topic"])
      else
        expect(events).to be_empty
        expect(stats[:malformed]).to eq(expect_["reason"] => 1)
      end
    ensure
      collector&.close
    end

    next unless expect_["valid"]

    it "#{name}: documents decode to the vector's canonical Extended JSON, types kept" do
      message = Eventstorm::Protocol.parse(frames)
      delivered = message.documents.first(expect_["events"].size).map do |bytes|
        Eventstorm::Protocol.decode(bytes, mode: :bson)
      end
      expect(delivered.map(&:as_extended_json)).to eq(expect_["events"])
    end

    next unless expect_["header"] && expect_["rejected"].zero?

    it "#{name}: encodes byte-exactly" do
      events = expect_["events"].map { |event| BSON::ExtJSON.parse_obj(event, mode: :bson) }
      header = expect_["header"]
      encoded = Eventstorm::Protocol.encode(topic: expect_["topic"], events: events,
                                            source: Integer(header["source"]),
                                            first: Integer(header["first"]))
      expect(encoded.map { |frame| frame.unpack1("H*") }).to eq(vector["frames"])
    end
  end

  def message_topic(frames)
    frames[0].dup.force_encoding(Encoding::UTF_8)
  end
end
