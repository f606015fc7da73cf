# frozen_string_literal: true

require "bson"

module Eventstorm
  # Encoding and validation of protocol v1 messages (docs/protocol.md): three frames,
  # topic, 24-byte little-endian header and a body of BSON documents back to back.
  module Protocol
    # First header byte.
    MAGIC = 0xE5
    # Protocol version in the header.
    VERSION = 1
    # Header size in bytes.
    HEADER_SIZE = 24
    # pack/unpack template of the header: magic, version, flags, count, source, first.
    HEADER_FORMAT = "CCS<L<Q<Q<"
    # Stream indexes must stay below 2^53 (they travel through JSON and doubles elsewhere).
    MAX_INDEX = 2**53
    # Longest topic in bytes.
    MAX_TOPIC = 255
    # Default largest message a receiver accepts (ZMQ_MAXMSGSIZE).
    MAX_MESSAGE = 16 << 20
    # Deepest nesting an event may have; the top-level document is level 1 (step 6).
    MAX_NESTING = 100
    # Furthest a datetime may lie from the epoch, in milliseconds: a JavaScript Date's
    # range, which receivers in TypeScript cannot exceed, so every receiver rejects more.
    MAX_DATE_MS = 8_640_000_000_000_000
    # Every drop reason of the "Validation" section, in the order the checks run.
    REASONS = %w[frames topic header_size magic version flags index bson oversized truncated
                 count].freeze
    TOPIC_PATTERN = /\A[a-z0-9_-]+(\.[a-z0-9_-]+)*\z/.freeze
    private_constant :TOPIC_PATTERN

    # One decoded message: what a receiver accounts and delivers.
    #
    # @!attribute topic [String] the event type
    # @!attribute count [Integer] documents in the body
    # @!attribute source [Integer, nil] stream id; nil for a two-frame message
    # @!attribute first [Integer, nil] stream index of the first document
    # @!attribute documents [Array<String>] the raw BSON documents
    Message = Struct.new(:topic, :count, :source, :first, :documents, keyword_init: true)

    # A message failed validation; {#reason} is one of {REASONS}, or +"owner"+ for a source
    # another peer owns (see Streams), or +"depth"+ for a document (see {.decode}).
    class Invalid < StandardError
      # @return [String] the drop reason
      attr_reader :reason

      # @param reason [String] one of {REASONS}
      # @example
      #   raise Eventstorm::Protocol::Invalid.new("magic")
      def initialize(reason)
        @reason = reason
        super("invalid message: #{reason}")
      end
    end

    module_function

    # Is +topic+ a valid event type (dotted lower case, at most 255 bytes)?
    #
    # @param topic [String]
    # @return [Boolean]
    # @example
    #   Eventstorm::Protocol.valid_topic?("http.hit") #=> true
    def valid_topic?(topic)
      topic.bytesize <= MAX_TOPIC && topic.dup.force_encoding(Encoding::UTF_8).valid_encoding? &&
        TOPIC_PATTERN.match?(topic)
    end

    # Packs a header.
    #
    # @param count [Integer] documents in the body (0 for a position announcement)
    # @param source [Integer] the stream id, 1 ... 2^64-1
    # @param first [Integer] stream index of the first document
    # @return [String] 24 binary bytes
    # @example
    #   Eventstorm::Protocol.header(count: 0, source: 7, first: 42).bytesize #=> 24
    def header(count:, source:, first:)
      [MAGIC, VERSION, 0, count, source, first].pack(HEADER_FORMAT)
    end

    # Encodes events as the three frames of one message.
    #
    # @param topic [String]
    # @param events [Array<Hash>] documents, serialized in their field order
    # @param source [Integer]
    # @param first [Integer]
    # @return [Array<String>] topic, header and body frames
    # @example
    #   Eventstorm::Protocol.encode(topic: "app.deploy", source: 1, first: 0,
    #     events: [{ "type" => "app.deploy", "time" => Time.now, "host" => "h" }])
    def encode(topic:, events:, source:, first:)
      body = events.map { |event| event.to_bson.to_s }.join.b
      [topic.b, header(count: events.size, source: source, first: first), body]
    end

    # Runs validation steps 1 to 5 (no BSON decoding).
    #
    # @param frames [Array<String>] the ZeroMQ frames of one message
    # @return [Message]
    # @raise [Invalid] with the drop reason
    # @example
    #   Eventstorm::Protocol.parse(frames).documents.size
    def parse(frames)
      raise Invalid, "frames" unless frames.size == 2 || frames.size == 3

      topic = frames[0].dup.force_encoding(Encoding::UTF_8)
      raise Invalid, "topic" unless valid_topic?(topic)

      count = source = first = nil
      if frames.size == 3
        head = frames[1].b
        raise Invalid, "header_size" unless head.bytesize == HEADER_SIZE

        magic, version, flags, count, source, first = head.unpack(HEADER_FORMAT)
        raise Invalid, "magic" unless magic == MAGIC
        raise Invalid, "version" unless version == VERSION
        raise Invalid, "flags" unless flags.zero?
        raise Invalid, "index" unless first < MAX_INDEX
      end
      documents = split(frames[-1].b)
      raise Invalid, "count" if count ? documents.size != count : documents.empty?

      Message.new(topic: topic, count: documents.size, source: source, first: first,
                  documents: documents)
    end

    # Walks the document lengths of a body (step 4).
    #
    # @param body [String] binary
    # @return [Array<String>] each document's bytes
    # @raise [Invalid] "bson", "oversized" or "truncated"
    # @example
    #   Eventstorm::Protocol.split("\x05\x00\x00\x00\x00".b).size #=> 1
    def split(body)
      documents = []
      offset = 0
      while offset < body.bytesize
        raise Invalid, "truncated" if body.bytesize - offset < 4

        length = body.unpack1("l<", offset: offset)
        raise Invalid, "bson" if length < 5
        raise Invalid, "oversized" if offset + length > body.bytesize
        raise Invalid, "bson" unless body.getbyte(offset + length - 1).zero?

        documents << body.byteslice(offset, length)
        offset += length
      end
      documents
    end

    # Decodes one BSON document (step 6), keeping BSON types (Int32, Int64, ...) when
    # +mode+ is :bson.
    #
    # @param bytes [String]
    # @param mode [Symbol, nil] nil for plain Ruby values, :bson to keep BSON wrapper types
    # @return [BSON::Document]
    # @raise [Invalid] "bson" when the document does not decode or holds invalid UTF-8;
    #   "depth" when it nests deeper than {MAX_NESTING} (bson-ruby would recurse into it)
    # @example
    #   Eventstorm::Protocol.decode(bytes)["type"] #=> "http.hit"
    def decode(bytes, mode: nil)
      raise Invalid, "depth" if deeper_than?(bytes, MAX_NESTING)

      document = BSON::Document.from_bson(BSON::ByteBuffer.new(bytes), mode: mode)
      raise Invalid, "bson" unless utf8?(document)

      document
    rescue Invalid
      raise
    rescue StandardError
      # bson-ruby raises many classes for bad input (Registry::UnsupportedType is no
      # BSON::Error); all of it is a document that does not decode.
      raise Invalid, "bson"
    end

    # Is the envelope of a decoded event valid for +topic+?
    #
    # @param document [Hash]
    # @param topic [String]
    # @return [Boolean]
    # @example
    #   Eventstorm::Protocol.envelope?(event, "http.hit")
    def envelope?(document, topic)
      document["type"] == topic && document["time"].is_a?(Time) && document["host"].is_a?(String)
    end

    # Is a decoded document an event a receiver delivers on +topic+ (step 6): a valid
    # envelope, and no date more than {MAX_DATE_MS} from the epoch, at any depth?
    #
    # @param document [Hash]
    # @param topic [String]
    # @return [Boolean]
    # @example
    #   Eventstorm::Protocol.event?(event, "http.hit")
    def event?(document, topic)
      envelope?(document, topic) && !far_date?(document)
    end

    # Does the BSON document in +bytes+ nest deeper than +limit+ levels? Walks the bytes
    # without recursion; malformed bytes answer false and are left to the decoder.
    #
    # @param bytes [String] binary
    # @param limit [Integer]
    # @return [Boolean]
    # @example
    #   Eventstorm::Protocol.deeper_than?({ "a" => { "b" => 1 } }.to_bson.to_s, 1) #=> true
    def deeper_than?(bytes, limit)
      ends = [bytes.bytesize]
      offset = 4
      until ends.empty?
        return false if offset >= bytes.bytesize

        type = bytes.getbyte(offset)
        offset += 1
        if type.zero?
          # A document ends exactly where its length says; anywhere else the walk could be
          # sent back over what it read already, for ever.
          return false unless ends.pop == offset

          next
        end
        name_end = bytes.index("\0", offset) or return false
        offset = name_end + 1
        return false if offset + 4 > bytes.bytesize

        if type == 0x03 || type == 0x04
          length = bytes.unpack1("l<", offset: offset)
          return false if length < 5
          return true if ends.size >= limit

          ends << offset + length
          offset += 4
        elsif type == 0x0F # code with scope: total length, string, then the scope document
          return false if offset + 8 > bytes.bytesize

          total, string_length = bytes.unpack("l<l<", offset: offset)
          return false if string_length < 1 || total < 13 + string_length
          return true if ends.size >= limit

          ends << offset + total
          offset += 8 + string_length + 4
        else
          size = value_size(type, bytes, offset) or return false
          offset += size
        end
      end
      false
    end

    # Bytes of a non-container value of BSON +type+ at +offset+; nil for a type or
    # layout the walk does not follow.
    def value_size(type, bytes, offset)
      case type
      when 0x01, 0x09, 0x11, 0x12 then 8
      when 0x02, 0x0D, 0x0E then sized(bytes, offset, least: 1, extra: 4)
      when 0x05 then sized(bytes, offset, least: 0, extra: 5)
      when 0x07 then 12
      when 0x08 then 1
      when 0x10 then 4
      when 0x13 then 16
      when 0x0C then sized(bytes, offset, least: 1, extra: 16)
      when 0x06, 0x0A, 0x7F, 0xFF then 0
      when 0x0B
        pattern_end = bytes.index("\0", offset) or return nil
        options_end = bytes.index("\0", pattern_end + 1) or return nil
        options_end + 1 - offset
      end
    end
    private_class_method :value_size

    # The int32 length at +offset+ plus +extra+ bytes; nil when the length is below
    # +least+ (a negative one would send the walk backwards).
    def sized(bytes, offset, least:, extra:)
      length = bytes.unpack1("l<", offset: offset)
      length >= least ? length + extra : nil
    end
    private_class_method :sized

    def far_date?(value)
      case value
      when Time then (value.to_r * 1000).abs > MAX_DATE_MS
      when Hash then value.each_value.any? { |item| far_date?(item) }
      when Array then value.any? { |item| far_date?(item) }
      else false
      end
    end
    private_class_method :far_date?

    def utf8?(value)
      case value
      when String then value.encoding != Encoding::UTF_8 || value.valid_encoding?
      when Hash then value.all? { |k, v| utf8?(k.to_s) && utf8?(v) }
      when Array then value.all? { |v| utf8?(v) }
      else true
      end
    end
    private_class_method :utf8?
  end
end
