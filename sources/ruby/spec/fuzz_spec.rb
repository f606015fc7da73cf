# frozen_string_literal: true

require_relative "spec_helper"

# Bytes from the network never crash a receiver: every mutation of every vector is either
# delivered and accounted or dropped under one of the protocol's reasons.
RSpec.describe "fuzzed messages" do
  it "are delivered or counted under a protocol reason, never raised" do
    random = Random.new(20_261_203)
    vectors = Dir[File.join(ProjectProcesses::ROOT, "docs/vectors/*.json")].sort.map do |path|
      JSON.parse(File.read(path))["frames"].map { |hex| [hex].pack("H*") }
    end
    collector = Eventstorm::Collector.new("@inproc://fuzz")
    messages = 0
    vectors.each do |frames|
      1_000.times do
        mutated = frames.map(&:dup)
        frame = mutated[random.rand(mutated.size)]
        case random.rand(4)
        when 0 # flip bytes
          random.rand(1..4).times do
            next if frame.empty?

            frame.setbyte(random.rand(frame.bytesize), random.rand(256))
          end
        when 1 then frame.slice!(random.rand(frame.bytesize + 1)..) # truncate
        when 2 then frame << random.bytes(random.rand(1..40)) # append garbage
        else mutated.insert(random.rand(mutated.size + 1), random.bytes(random.rand(30)))
        end
        expect { collector.handle(mutated) }.not_to raise_error
        messages += 1
      end
    end
    stats = collector.stats
    expect(stats[:malformed].keys - Eventstorm::Protocol::REASONS).to be_empty
    expect(stats[:messages] + stats[:malformed].values.sum).to eq(messages)
    collector.close
  end
end
