# frozen_string_literal: true

require "bson"

module Eventstorm
  # The encoded events of one topic on their way into one message: each event is written
  # straight into one growing BSON::ByteBuffer, so no buffer or String is made per event.
  #
  # bson-ruby encodes a Hash of plain values natively, but a Time among them sends the whole
  # Hash down its slower Ruby path. So an event is written as the type's envelope (length,
  # type, time, host: see {.envelope}) followed by the fields as a document of their own.
  # That document brings its own length (4 bytes) where the event needs none, so the
  # envelope's last 4 bytes are left off before it and written over its length after: the
  # event comes out whole, in place, with no copy.
  #
  # @api private
  # @example
  #   batch = Eventstorm::Batch.new("app.deploy", "web1",
  #                                 Eventstorm::Batch.envelope("app.deploy", "web1"))
  #   batch.add(Time.now, { version: "1.2" })
  #   batch.body # => the event's BSON document
  class Batch
    # Larger single events are dropped and counted (+oversized+), as eventstorm's own
    # emitters do, keeping every message far below the protocol's 16 MiB limit.
    MAX_EVENT = 1 << 20

    # For Thread.handle_interrupt: exceptions from other threads wait until the block is done.
    DEFER_INTERRUPTS = { Object => :never }.freeze

    TIME_HEAD = "\x09time\x00".b.freeze
    private_constant :TIME_HEAD

    # How a template for {#add_packed} starts: length, type element and time key, time, host
    # element.
    PACKED_ENVELOPE = "l<a*q<a*"

    # The bytes an event of +type+ from +host+ starts with, its length and time left zero,
    # and the offset of its time: made once per type, for every batch of it.
    #
    # @param type [String] a valid topic
    # @param host [String]
    # @return [Array(String, Integer)] frozen
    # @example
    #   envelope, time_at = Eventstorm::Batch.envelope("app.deploy", "web1")
    def self.envelope(type, host)
      head = "\x00\x00\x00\x00".b << string_element("type", type) << TIME_HEAD
      [(head + ("\x00" * 8).b << string_element("host", host)).freeze, head.bytesize].freeze
    end

    def self.string_element(key, value)
      utf8 = value.encode(Encoding::UTF_8).b
      "\x02#{key}\x00".b << [utf8.bytesize + 1].pack("V") << utf8 << "\x00"
    end
    private_class_method :string_element

    # @return [String] the events' type
    attr_reader :type
    # @return [Float] monotonic time of the batch's making
    attr_reader :started

    # @param type [String] the events' type (valid, frozen)
    # @param host [String] their +host+
    # @param envelope [Array(String, Integer)] {.envelope} of +type+ and +host+
    # @example
    #   Eventstorm::Batch.new("app.deploy", "web1", envelope).count #=> 0
    def initialize(type, host, envelope)
      @type = type
      @host = host
      @envelope, @time_at = envelope
      @type_and_time_key = @envelope.byteslice(4, @time_at - 4)
      @host_element = @envelope.byteslice((@time_at + 8)..)
      @buffer = BSON::ByteBuffer.new
      @packed = String.new(encoding: Encoding::BINARY) # see #add_packed
      # All but the envelope's last 4 bytes, and those 4 as the int32 that overwrites the
      # fields document's length (see the class comment).
      @envelope_tail_at = @envelope.bytesize - 4
      @envelope_tail = @envelope.byteslice(@envelope_tail_at, 4).unpack1("l<")
      # The millisecond and the envelope's head stamped with it, set as one: the time is the
      # same for many events.
      @stamped = [nil, nil].freeze
      @records = [] # writer, record, writer, record, ... (see #add_record)
      @count = 0
      @started = Eventstorm.monotonic
    end

    # Events in the batch, the records {#add_record} keeps included (some may turn out to be
    # unwritable when they are packed).
    #
    # @return [Integer]
    # @example
    #   Eventstorm::Batch.new("app.deploy", "web1", envelope).count #=> 0
    def count
      @count + (@records.size >> 1)
    end

    # @return [Integer] records {#add_record} keeps, not packed yet
    # @example
    #   batch.records #=> 0
    def records
      @records.size >> 1
    end

    # Keeps a record, to be written by +writer+ (+pack_record(record)+ answers the arguments
    # of {#add_packed}) with the others in {#pack_records}. Packed one after another, records
    # cost a busy server less than packed each as it comes: the pack runs with its code and
    # data in the CPU's caches, where the work between two requests had pushed them out.
    #
    # @param writer [#pack_record]
    # @param record [Object]
    # @return [true]
    # @example
    #   batch.add_record(Eventstorm::Rack::HitFields, record) #=> true
    def add_record(writer, record)
      @records.push(writer, record)
      true
    end

    # Packs the records {#add_record} kept, in the order they came, after the events already
    # in the batch. The caller defers exceptions from other threads (Thread#raise, Timeout)
    # around it and the counting of what it returns (see Emitter), so each record is written
    # once or counted.
    #
    # @return [Array(Integer, Integer)] records the writer could not write (+unencodable+)
    #   and records over {MAX_EVENT} bytes (+oversized+), left out
    # @example
    #   batch.pack_records #=> [0, 0]
    def pack_records
      return NOTHING_REFUSED if @records.empty?

      records = @records
      @records = []
      pack_each(records)
    end

    NOTHING_REFUSED = [0, 0].freeze
    private_constant :NOTHING_REFUSED

    # Bytes the message body will have (at most), kept records left out.
    #
    # @return [Integer]
    # @example
    #   Eventstorm::Batch.new("app.deploy", "web1", envelope).bytesize #=> 0
    def bytesize
      @buffer.length + @packed.bytesize
    end

    # Appends one event. Without a +time+, the clock's milliseconds are the event's: reading
    # them costs a fraction of building a Time.
    #
    # @param time [Time, nil]
    # @param fields [Hash] the event's own fields
    # @return [Boolean] false when the event is over {MAX_EVENT} bytes (it is left out)
    # @raise [ArgumentError] for a time receivers reject or a field BSON cannot hold. Whatever
    #   is raised, from a field's own +to_bson+ or into the thread from outside, the batch is
    #   left as it was.
    # @example
    #   batch.add(nil, { version: "1.2" }) #=> true
    def add(time, fields)
      # The clock's own time needs no check against the protocol's range.
      millis = if time.nil?
                 Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
               else
                 millis_of(time)
               end
      whole = if millis.nil? || envelope_key?(fields)
                document(time || Time.at(millis / 1000, millis % 1000, :millisecond), fields)
              end
      # Packed events come first, as they were added; moved whole or not at all.
      Thread.handle_interrupt(DEFER_INTERRUPTS) { move_packed } unless @packed.empty?
      start = @buffer.length
      count = @count
      # Whatever is raised in here, even into this thread from another (Rack::Timeout,
      # Thread#raise), the batch is put back as it was: half an event would spoil them all.
      begin
        if whole
          @buffer.put_bytes(whole.to_bson.to_s)
          length = @buffer.length - start
        else
          stamped_millis, head = @stamped
          @buffer.put_bytes(millis == stamped_millis ? head : stamped_head(millis))
          write_fields(fields)
          @buffer.replace_int32(start + @envelope_tail_at, @envelope_tail)
          length = @buffer.length - start
          @buffer.replace_int32(start, length)
        end
        if length > MAX_EVENT
          roll_back(start, count)
          return false
        end
        @count += 1
      rescue BSON::Error, NoMethodError, ArgumentError, RangeError, EncodingError => e
        roll_back(start, count)
        raise ArgumentError, "event cannot be encoded as BSON: #{e.message}"
      rescue Exception # rubocop:disable Lint/RescueException -- rolled back, re-raised
        roll_back(start, count)
        raise
      end
      true
    end

    # Appends one event written by a single +Array#pack+ ({Eventstorm::Rack::HitFields}
    # makes the template and values): the envelope's four values (length, type and time key,
    # time, host element) first, then the fields' elements and closing NUL.
    #
    # While the batch holds only such events they are packed straight onto the body, with no
    # String made per event; after an event added with {#add} they are appended in order.
    #
    # @param millis [Integer] the event's time, in milliseconds since the epoch
    # @param template [String] starting with {PACKED_ENVELOPE}
    # @param values [Array] the values, the first four slots left for the envelope
    # @param size [Integer] bytes the fields take, closing NUL included
    # @return [Boolean] false when the event is over {MAX_EVENT} bytes (it is left out)
    # @raise [ArgumentError] for a time receivers reject
    # @example
    #   batch.add_packed(1_700_000_000_000, "#{Eventstorm::Batch::PACKED_ENVELOPE}a*l<x",
    #                    [nil, nil, nil, nil, "\x10status\x00".b, 200], 12) #=> true
    def add_packed(millis, template, values, size)
      if millis.abs > Protocol::MAX_DATE_MS
        raise ArgumentError, "time #{millis} ms is more than 8.64e15 ms from the epoch"
      end

      length = @envelope.bytesize + size
      return false if length > MAX_EVENT

      values[0] = length
      values[1] = @type_and_time_key
      values[2] = millis
      values[3] = @host_element
      if @buffer.length.zero?
        packed = @packed.bytesize
        begin
          values.pack(template, buffer: @packed)
        rescue Exception # rubocop:disable Lint/RescueException -- rolled back, re-raised
          @packed = @packed.byteslice(0, packed)
          raise
        end
      else
        @buffer.put_bytes(values.pack(template))
      end
      @count += 1
      true
    end

    # The events end to end, as a message body (kept records left out: {#pack_records} first).
    #
    # @return [String] binary
    # @example
    #   batch.body.bytesize == batch.bytesize #=> true
    def body
      @buffer.length.zero? ? @packed : @buffer.to_s
    end

    private

    def pack_each(records)
      unencodable = oversized = 0
      index = 0
      while index < records.size
        packed = begin
          records[index].pack_record(records[index + 1])
        rescue StandardError
          nil
        end
        index += 2
        begin
          if packed.nil?
            unencodable += 1
          elsif !add_packed(*packed)
            oversized += 1
          end
        rescue StandardError # a time receivers reject, values the template refuses
          unencodable += 1
        end
      end
      [unencodable, oversized]
    end

    # The milliseconds of a +time+ given to {#add}; nil for a kind of time other than Time,
    # which bson-ruby encodes with the whole document. Raises ArgumentError for one more than
    # 8.64e15 ms from the epoch: receivers reject it.
    def millis_of(time)
      millis = (time.to_i * 1000) + (time.usec / 1000) if time.instance_of?(Time)
      if millis && millis.abs > Protocol::MAX_DATE_MS
        raise ArgumentError, "time #{time} is more than 8.64e15 ms from the epoch: receivers reject it"
      end

      millis
    end

    # The envelope with +millis+ as its time, less its last 4 bytes: made once a millisecond.
    def stamped_head(millis)
      head = @envelope.byteslice(0, @envelope_tail_at)
      head[@time_at, 8] = [millis].pack("q<")
      @stamped = [millis, head.freeze].freeze
      head
    end

    def move_packed
      @buffer.put_bytes(@packed)
      @packed = String.new(encoding: Encoding::BINARY)
    end

    def envelope_key?(fields)
      fields.key?(:type) || fields.key?(:time) || fields.key?(:host) ||
        fields.key?("type") || fields.key?("time") || fields.key?("host")
    end

    def document(time, fields)
      document = { "type" => @type, "time" => time, "host" => @host }
      fields.each { |key, value| document[key.to_s] = value }
      raise ArgumentError, "field type #{document['type'].inspect} is not the event's type" unless
        document["type"] == @type

      document
    end

    # Hash#to_bson's own writer, called without the Ruby-level checks to_bson makes on every
    # call (0.3 of its 2.7 µs for an event of six fields, in a loop). bson-ruby 4 takes a
    # flag for the keys' validation, which events do not need (the emitter writes them for
    # eventstorm, not for MongoDB); bson-ruby 5 has none; without the writer, to_bson.
    PUT_HASH_ARITY = BSON::ByteBuffer.method_defined?(:put_hash) &&
                     BSON::ByteBuffer.instance_method(:put_hash).arity
    private_constant :PUT_HASH_ARITY
    if PUT_HASH_ARITY == 2
      def write_fields(fields)
        @buffer.put_hash(fields, false)
      end
    elsif PUT_HASH_ARITY == 1
      def write_fields(fields)
        @buffer.put_hash(fields)
      end
    else
      def write_fields(fields)
        fields.to_bson(@buffer)
      end
    end

    # ByteBuffer cannot shrink: a failed or oversized event's bytes go with a copy.
    def roll_back(length, count)
      if @buffer.length > length
        kept = @buffer.to_s.byteslice(0, length)
        @buffer = BSON::ByteBuffer.new
        @buffer.put_bytes(kept)
      end
      @count = count
    end
  end
end
