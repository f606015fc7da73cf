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

    # A message failed validation; {#reason} is one of {REASONS}.
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
    # @raise [Invalid] "bson" when the document does not decode or holds invalid UTF-8
    # @example
    #   Eventstorm::Protocol.decode(bytes)["type"] #=> "http.hit"
    def decode(bytes, mode: nil)
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
