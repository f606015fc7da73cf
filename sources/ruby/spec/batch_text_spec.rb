# frozen_string_literal: true

# Batch::Buffer writes valid UTF-8 Strings itself, not through bson-ruby's native put_string
# (see Batch::Buffer#put_string): these specs hold it to bson-ruby's bytes and errors.
RSpec.describe Eventstorm::Batch do
  # Pieces random text is made of: ASCII, NUL, multi-byte characters, and bytes or
  # sequences that are not valid UTF-8 (a lone continuation byte, a truncated sequence, a
  # surrogate, an overlong NUL that bson-ruby's own check lets through, a code point past
  # U+10FFFF, bytes no UTF-8 has).
  PIECES = ["a", "GET", "/downloads/product_1", " ", "\x00", "\t", "é", "€", "𝄞", "日本",
            "\x80", "\xE2\x82", "\xED\xA0\x80", "\xC0\x80", "\xF4\x90\x80\x80", "\xFF",
            "\xFE"].map { |piece| piece.b.freeze }.freeze
  ENCODINGS = [Encoding::UTF_8, Encoding::UTF_8, Encoding::UTF_8, Encoding::BINARY,
               Encoding::US_ASCII, Encoding::ISO_8859_1, Encoding::UTF_16LE,
               Encoding::Shift_JIS].freeze

  def random_text(random)
    text = Array.new(random.rand(0..6)) { PIECES.sample(random: random) }.join
    text = "x" * random.rand(60..300) + text if random.rand(8).zero?
    text = +text
    text.force_encoding(ENCODINGS.sample(random: random))
    text = text.dup unless random.rand(3).zero? # a fresh String: its validity not yet known
    text
  end

  # What a buffer made of +bytes+ or the error raised, as class and message.
  def outcome
    yield.to_s
  rescue StandardError => e
    [e.class, e.message]
  end

  INT_EDGES = [0, 1, -1, (2**31) - 1, -(2**31), 2**31, -(2**31) - 1, (2**63) - 1, -(2**63),
               2**63, -(2**63) - 1, 4312].freeze
  FLOAT_EDGES = [0.0, -0.0, 1.5, Float::NAN, Float::INFINITY, -Float::INFINITY,
                 Float::MIN, Float::MAX, 0.1].freeze

  def random_value(random)
    case random.rand(7)
    when 0, 1, 2 then random_text(random)
    when 3 then INT_EDGES.sample(random: random)
    when 4 then FLOAT_EDGES.sample(random: random)
    when 5 then [true, false, nil].sample(random: random)
    else random.rand(-1000..1000)
    end
  end

  # Flat fields, Symbol and String keys (a name as both, at times), none of the envelope's.
  def random_fields(random)
    names = %w[a b path agent é status]
    Array.new(random.rand(0..7)) do
      name = names.sample(random: random)
      [random.rand(2).zero? ? name.to_sym : name, random_value(random)]
    end.to_h
  end

  it "writes every String, valid or not, in any encoding, as bson-ruby's own buffer does" do
    random = Random.new(14)
    strings = Array.new(4000) { random_text(random) }
    strings += PIECES.map { |piece| piece.dup.force_encoding(Encoding::UTF_8) }
    strings << +"" << "".b << "\x00".dup.force_encoding(Encoding::UTF_8)
    differing = strings.reject do |text|
      ours = outcome { described_class::Buffer.new.put_string(text) }
      ours == outcome { BSON::ByteBuffer.new.put_string(text) }
    end
    expect(differing.size).to eq(0), "e.g. #{differing.first(3).map { |t| [t.encoding, t.b] }}"
    expect(strings.count { |text| text.encoding == Encoding::UTF_8 && !text.valid_encoding? })
      .to be > 200 # the invalid ones were there, and went to bson-ruby's writer
  end

  it "writes the events of random flat fields as bson-ruby does, or refuses them as before" do
    random = Random.new(2026)
    envelope = described_class.envelope("app.text", "web1")
    head = envelope[0].dup.b
    written = refused = 0
    mismatches = []
    3000.times do |n|
      fields = random_fields(random)
      batch = described_class.new("app.text", "web1", envelope)
      batch.add(Time.at(0, n, :millisecond), { first: 1 })
      before = batch.body.dup
      # What bson-ruby's buffer writes for the fields, after the envelope (less the fields'
      # length: the event has one).
      expected = outcome { BSON::ByteBuffer.new.put_hash(fields, false) }
      got = outcome { batch.add(Time.at(0, n, :millisecond), fields) && batch.body.byteslice(before.bytesize..) }
      if expected.is_a?(String)
        head[envelope[1], 8] = [n].pack("q<")
        event = head + expected.byteslice(4..)
        event[0, 4] = [event.bytesize].pack("l<")
        written += 1
        mismatches << fields unless got == event && batch.count == 2
      else
        refused += 1
        # The same error, wrapped as Batch wraps what bson-ruby raises; the batch as it was.
        mismatches << fields unless got == [ArgumentError, "event cannot be encoded as BSON: #{expected[1]}"] &&
                                    batch.body == before && batch.count == 1
      end
    end
    expect(mismatches).to be_empty, "#{mismatches.size} differ, e.g. #{mismatches.first(2).inspect}"
    expect([written, refused]).to all(be > 300)
  end

  it "writes a duplicate key given as a String and as a Symbol twice, as bson-ruby does" do
    envelope = described_class.envelope("app.text", "web1")
    batch = described_class.new("app.text", "web1", envelope)
    batch.add(Time.at(1), { "a" => "one", a: "two" })
    fields = BSON::ByteBuffer.new.put_hash({ "a" => "one", a: "two" }, false).to_s
    expect(batch.body.end_with?(fields.byteslice(4..))).to be(true)
    expect(batch.body.scan("\x02a\x00".b).size).to eq(2)
  end

  # The gain itself: bson-ruby's native put_string asks each String for its encoding and the
  # encoding for its name (from C, each call costly); valid UTF-8 needs neither.
  it "writes valid UTF-8 text without asking its encoding for a name" do
    envelope = described_class.envelope("app.text", "web1")
    batch = described_class.new("app.text", "web1", envelope)
    fields = { path: "/downloads/product_1", agent: "Debian APT-HTTP/1.3 é", n: 1 }
    names = 0
    trace = TracePoint.new(:c_call) { |point| names += 1 if point.method_id == :name }
    trace.enable { batch.add(nil, fields) }
    expect(names).to eq(0)
    expect(batch.count).to eq(1)
    # Text in another encoding still goes to bson-ruby's writer, converted there.
    latin = "caf\xE9".dup.force_encoding(Encoding::ISO_8859_1)
    batch.add(Time.at(2), { name: latin })
    expect(batch.body.end_with?("\x02name\x00\x06\x00\x00\x00café\x00\x00".b)).to be(true)
  end

  # As emitter_spec's pair of exceptions from other threads, with text fields: an exception
  # may now land between the length, the text and the NUL that Buffer#put_string writes.
  it "keeps a batch whole when exceptions land anywhere in writing text, twice" do
    path = File.expand_path("../lib/eventstorm/batch.rb", __dir__)
    envelope = described_class.envelope("app.text", "spec")
    result = raise_at_every_pair_of_steps(path: path, firsts: 1..70, reach: 30) do |pair|
      batch = described_class.new("app.text", "spec", envelope)
      batch.add(nil, { n: 0, s: "zero" })
      pair.attempt(times: 3) { |n| batch.add(nil, { n: n, s: "text é #{n}", t: "more" }) }
      batch.add(nil, { n: 9, s: "nine" })
      events = bson_documents(batch.body)
      middle = events[1..-2].map { |event| event["n"] }
      next if events.size == batch.count && events.first["n"].zero? && events.last["n"] == 9 &&
              middle == middle.sort.uniq && (middle - [1, 2, 3]).empty? &&
              events[1..-2].all? { |event| event["s"] == "text é #{event['n']}" && event["t"] == "more" }

      [batch.count, middle]
    end
    expect(result.steps).to be > 30 # the pairs reach past the end of an add
    expect(result.broken).to be_empty, "#{result.broken.size} broken batches, e.g. #{result.broken.first(3)}"
  end
end
