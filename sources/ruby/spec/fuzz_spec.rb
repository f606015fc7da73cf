# frozen_string_literal: true

require_relative "spec_helper"
require "eventstorm/rack"

# As the TypeScript fuzz tests: a new seed each run, named when a spec fails; FUZZ_SEED=N
# replays that run and FUZZ_ITERATIONS=N (20,000 by default) runs longer.
module FuzzRun
  SEED = Integer(ENV.fetch("FUZZ_SEED", Random.new_seed % (2**31)))
  ITERATIONS = Integer(ENV.fetch("FUZZ_ITERATIONS", 20_000))

  def self.random
    @named ||= warn("FUZZ_SEED=#{SEED} FUZZ_ITERATIONS=#{ITERATIONS}") || true
    Random.new(SEED)
  end
end

# Bytes from the network never crash a receiver: every mutation of every vector is either
# delivered and accounted or dropped under one of the protocol's reasons.
RSpec.describe "fuzzed messages" do
  it "are delivered or counted under a protocol reason, never raised" do
    random = FuzzRun.random
    vectors = Dir[File.join(ProjectProcesses::ROOT, "docs/vectors/*.json")].sort.map do |path|
      JSON.parse(File.read(path))["frames"].map { |hex| [hex].pack("H*") }
    end
    collector = Eventstorm::Collector.new("@inproc://fuzz")
    messages = 0
    vectors.each do |frames|
      (FuzzRun::ITERATIONS / 20).times do
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
        expect { collector.handle(mutated) }.not_to raise_error, "seed #{FuzzRun::SEED}"
        messages += 1
      end
    end
    stats = collector.stats
    expect(stats[:malformed].keys - Eventstorm::Protocol::REASONS).to be_empty
    expect(stats[:messages] + stats[:malformed].values.sum).to eq(messages)
    collector.close
  end
end

# What a request sends (its path, query and headers) reaches Eventstorm::Rack as bytes in any
# encoding, or as other values from an odd server: every event comes out as BSON with valid
# UTF-8 text, never an exception.
RSpec.describe "fuzzed requests" do
  it "are written as events with valid UTF-8 text" do
    random = FuzzRun.random
    encodings = [Encoding::BINARY, Encoding::UTF_8, Encoding::ISO_8859_1, Encoding::Shift_JIS,
                 Encoding::UTF_16LE, Encoding::UTF_7]
    value = lambda do
      case random.rand(6)
      when 0 then nil
      when 1 then random.rand(-5..5)
      when 2 then :symbol
      else random.bytes(random.rand(0..40)).force_encoding(encodings.sample(random: random))
      end
    end
    (FuzzRun::ITERATIONS / 10).times do
      record = Array.new(Eventstorm::Rack::HitFields::ENV_KEYS.size) { value.call } +
               [random.rand(-2**41..2**41), random.rand * 100, random.rand(-2**40..2**40),
                random.rand(0..2**40)]
      batch = hit_batch
      batch.add_record(Eventstorm::Rack::HitFields, record)
      expect(batch.pack_records).to eq([0, 0])
      event = BSON::Document.from_bson(BSON::ByteBuffer.new(batch.body))
      strings = event.values.grep(String)
      expect(strings.size).to be >= 7 # type and host, then the request's five
      strings.each do |text|
        expect(text.encoding).to eq(Encoding::UTF_8)
        expect(text).to be_valid_encoding, -> { "seed #{FuzzRun::SEED}: #{record.inspect}" }
      end
      expect(event["request"]).to eq("#{event['method']} #{event['path']}" \
                                     "#{event['query'] ? "?#{event['query']}" : ''} #{event['protocol']}")
    end
  end
end
