# frozen_string_literal: true

require_relative "spec_helper"
require "eventstorm/rack"

# ext/eventstorm writes the common request's http.hit in C. Whatever it is given, it writes
# the bytes the Ruby path writes, or leaves the event to that path untouched.
RSpec.describe "the native writer of Eventstorm::Rack" do
  hit_fields = Eventstorm::Rack::HitFields

  before do
    next if Eventstorm::Rack.native?
    raise "the native writer is not built (rake compile)" if ENV["CI"] == "true"

    skip "the native writer is not built: run rake compile"
  end

  it "writes what the Ruby path writes for random requests, or leaves them to it" do
    random = Random.new(20_261_206)
    ascii = -> { Array.new(random.rand(0..60)) { random.rand(0..127).chr }.join }
    text = -> { [nil, "", ascii.call, ascii.call].sample(random: random) }
    odd = lambda do # what a server may put in the env, or a bug in the app
      [random.bytes(random.rand(1..20)), "caf\u00e9", "\xFF".b, :symbol, random.rand(-5..5),
       "caf\xE9".dup.force_encoding(Encoding::ISO_8859_1)].sample(random: random)
    end
    number = lambda do
      [random.rand(-2**33..2**33), random.rand(0..600), 2**31 - 1, 2**31, -2**31, -2**31 - 1,
       2**70, random.rand * 1e10, -0.0, Float::NAN, Float::INFINITY, 1.5, "200", nil]
        .sample(random: random)
    end
    seconds = -> { [random.rand * 10, 0.0005, 2.0**40, Float::NAN, -1.25].sample(random: random) }
    written = { true => 0, nil => 0 }
    3_000.times do
      record = Array.new(hit_fields::ENV_KEYS.size) { text.call } +
               [[random.rand(-2**53..2**53), random.rand(0..2**42)].sample(random: random),
                seconds.call, random.rand(100..599), random.rand(0..2**40)]
      # Half the records get one odd value somewhere.
      if random.rand(2).zero?
        slot = random.rand(record.size)
        record[slot] = slot < hit_fields::ENV_KEYS.size ? odd.call : number.call
      end
      native = hit_batch
      added = native.append_record(hit_fields, record)
      written[added] += 1
      next if added.nil?

      expect(added).to be(true)
      ruby = hit_batch
      expect(ruby.add_packed(*hit_fields.pack_record(record))).to be(true)
      expect(native.body).to eq(ruby.body), -> { record.inspect }
      expect(native.count).to eq(1)
    end
    expect(written[true]).to be > 200
    expect(written[nil]).to be > 200
  end

  it "writes the right bytes while the GC runs and compacts (short Strings' bytes move)" do
    skip "GC.auto_compact needs Ruby 3.0" unless GC.respond_to?(:auto_compact=)

    records = Array.new(30) do |i|
      ["10.0.0.#{i % 256}", "GET", "", "/p#{i}", "q=#{i}", "HTTP/1.1", nil, "r#{i}", "ua#{i}",
       "h#{i}", 1_700_000_000_000 + i, i / 1000.0, 200, i]
    end
    expected = records.map do |record|
      ruby = hit_batch
      ruby.add_packed(*hit_fields.pack_record(record))
      ruby.body
    end
    was = GC.auto_compact
    written = []
    batches = records.map { hit_batch }
    begin
      GC.auto_compact = true
      records.zip(batches) do |record, native|
        GC.stress = true # every allocation collects, and compacts
        native.append_record(hit_fields, record)
        GC.stress = false
        written << native.body
      end
    ensure
      GC.stress = false
      GC.auto_compact = was
    end
    expect(written).to eq(expected)
  end

  it "leaves the Ruby path what it must judge: text not ASCII, a time receivers reject" do
    base = ["10.0.0.1", "GET", "", "/", "", "HTTP/1.1", nil, nil, "curl/8", nil,
            1_700_000_000_000, 0.25, 200, 2]
    changes = { 3 => "/caf\u00e9", 8 => "\xFF".b, 0 => :local, 10 => 8_640_000_000_000_001,
                11 => 1, 12 => "200", 13 => 2**64 }
    changes.each do |slot, changed|
      record = base.dup
      record[slot] = changed
      empty = hit_batch
      expect(empty.append_record(hit_fields, record)).to be_nil, -> { "slot #{slot}" }
      expect([empty.count, empty.bytesize]).to eq([0, 0])
    end
    expect(hit_batch.append_record(hit_fields, base)).to be(true)
  end

  it "refuses an event over Batch::MAX_EVENT, as the Ruby path does, writing nothing" do
    record = ["10.0.0.1", "GET", "", "/", "", "HTTP/1.1", nil, nil, "a" * (1 << 20), nil,
              1_700_000_000_000, 0.25, 200, 2]
    native = hit_batch
    expect(native.append_record(hit_fields, record)).to be(false)
    expect([native.count, native.bytesize]).to eq([0, 0])
    expect(hit_batch.add_packed(*hit_fields.pack_record(record))).to be(false)
  end

  it "keeps events in order after one added as a Hash, through the emitter" do
    record = ["10.0.0.1", "GET", "", "/a", "", "HTTP/1.1", nil, nil, "curl/8", nil,
              1_700_000_000_000, 0.25, 200, 2]
    mixed = hit_batch
    expect(mixed.append_record(hit_fields, record)).to be(true)
    mixed.add(Time.at(1_700_000_000), { "path" => "/b" })
    # Once the batch holds a Hash's event the packed ones follow it through the Ruby path.
    expect(mixed.append_record(hit_fields, record)).to be_nil
    expect(mixed.add_packed(*hit_fields.pack_record(record))).to be(true)
    paths = []
    body = mixed.body
    until body.empty?
      size = body.unpack1("l<")
      paths << BSON::Document.from_bson(BSON::ByteBuffer.new(body.byteslice(0, size)))["path"]
      body = body.byteslice(size..)
    end
    expect(paths).to eq(%w[/a /b /a])
  end
end
