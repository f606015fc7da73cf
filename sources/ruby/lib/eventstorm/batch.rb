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
  # An exception from another thread (Thread#raise, Rack::Timeout) may land anywhere in
  # {#add}, even in the code that recovers from an earlier one. So no recovery is needed to
  # keep the batch whole: the events' count and the bytes they take are one Integer that one
  # assignment commits, and bytes past them (an event whose writing was cut short) are
  # dropped before the next write or read of the body.
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
    # @committed is count * COUNT_UNIT + the bytes of @buffer that hold whole events: a body
    # is under 2**32 bytes (16 MiB at most), a batch under 2**32 events (see Emitter).
    COUNT_UNIT = 1 << 32
    BYTES_MASK = COUNT_UNIT - 1
    private_constant :TIME_HEAD, :COUNT_UNIT, :BYTES_MASK

    # Raised by {Buffer} for an int64 receivers could reject as a date; private to the batch.
    class FarInt64 < StandardError; end

    # An event the receivers would reject (a date out of range, nesting too deep): refused
    # with this message as it is, where other ArgumentErrors are wrapped.
    class Refused < ArgumentError; end
    private_constant :FarInt64, :Refused

    # The batch's body. bson-ruby writes Strings, numbers, Hashes and Arrays natively, and
    # every other value through its Ruby +to_bson+, which for a Time, DateTime or Date calls
    # the buffer's +put_int64+. So a date in any field, at any depth, passes through here,
    # and no other event pays for the check: one beyond the protocol's range stops the
    # writing, and {Batch#add} then looks at the fields to tell a date from an Int64.
    class Buffer < BSON::ByteBuffer
      # bson-ruby writes each String through String#to_bson, which calls the buffer's
      # +put_string+. Its native one asks the String for its encoding and the encoding for its
      # name, calls from C that cost more than the writing: the six fields of an http.hit
      # (four Strings) took 2.2 µs to write with it, 1.8 with this (Ruby 3.1): a tenth of an
      # emit's instructions. Valid UTF-8 (as Ruby checks it, which lets through nothing
      # bson-ruby's check refuses) is written as it is, the same bytes; text in any other
      # encoding, or not valid, goes to bson-ruby's, to be converted or refused as before.
      #
      # @param value [String]
      # @return [self]
      # @raise [EncodingError] as bson-ruby's for text it cannot write
      # @example
      #   buffer.put_string("GET")
      def put_string(value)
        if value.encoding == UTF_8 && value.valid_encoding? && (size = value.bytesize) < MAX_TEXT
          put_int32(size + 1).put_bytes(value).put_bytes(NUL)
        else
          super
        end
      end

      UTF_8 = Encoding::UTF_8
      NUL = "\x00".b.freeze
      # Longer text has a length beyond int32, for bson-ruby to deal with as it does.
      MAX_TEXT = (1 << 31) - 1
      private_constant :UTF_8, :NUL, :MAX_TEXT

      # @param value [Integer]
      # @return [self]
      # @raise [FarInt64] beyond {Protocol::MAX_DATE_MS}
      # @example
      #   buffer.put_int64(0)
      def put_int64(value)
        raise FarInt64 if value > Protocol::MAX_DATE_MS || value < -Protocol::MAX_DATE_MS

        super
      end
    end

    # A document nested deeper than {Protocol::MAX_NESTING} levels has at least that many
    # documents or arrays inside one another, each of at least 7 bytes (type, empty key, its
    # length and its final NUL): an event under this size cannot be too deep, and only a
    # larger one has its fields looked at.
    DEEP_BYTES = 7 * Protocol::MAX_NESTING
    # Days between the Julian day 0 and the epoch, as bson-ruby writes a Date.
    EPOCH_JD = 2_440_588
    private_constant :DEEP_BYTES, :EPOCH_JD

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
      @buffer = Buffer.new
      @packed = String.new(encoding: Encoding::BINARY) # see #add_packed
      # All but the envelope's last 4 bytes, and those 4 as the int32 that overwrites the
      # fields document's length (see the class comment).
      @envelope_tail_at = @envelope.bytesize - 4
      @envelope_tail = @envelope.byteslice(@envelope_tail_at, 4).unpack1("l<")
      # The millisecond and the envelope's head stamped with it, set as one: the time is the
      # same for many events.
      @stamped = [nil, nil].freeze
      @records = [] # writer, record, writer, record, ... (see #add_record)
      @values = [] # a record's values as its writer fills them (see #pack_each)
      @committed = 0 # events and the bytes of @buffer they take (see the class comment)
      @started = Eventstorm.monotonic
    end

    # Events in the batch, the records {#add_record} keeps included (some may turn out to be
    # unwritable when they are packed).
    #
    # @return [Integer]
    # @example
    #   Eventstorm::Batch.new("app.deploy", "web1", envelope).count #=> 0
    def count
      (@committed >> 32) + (@records.size >> 1)
    end

    # @return [Integer] records {#add_record} keeps, not packed yet
    # @example
    #   batch.records #=> 0
    def records
      @records.size >> 1
    end

    # Keeps a record, to be written by +writer+ (+pack_record(record, values)+ fills an empty
    # Array with the arguments of {#add_packed}: the fields' size, the template, the time,
    # a free slot, then the template's values after the envelope) with the others in
    # {#pack_records}. Packed one after another, records
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
      (@committed & BYTES_MASK) + @packed.bytesize
    end

    # Appends one event. Without a +time+, the clock's milliseconds are the event's: reading
    # them costs a fraction of building a Time.
    #
    # Every receiver rejects an event with a date (its time or any field's) more than
    # 8.64e15 ms from the epoch or nested deeper than 100 levels, so such an event is refused
    # here, without a look at the fields of the others (see {Buffer} and DEEP_BYTES).
    #
    # @param time [Time, DateTime, Date, nil]
    # @param fields [Hash] the event's own fields
    # @return [Boolean] false when the event is over {MAX_EVENT} bytes (it is left out)
    # @raise [ArgumentError] for a time that is not a Time, DateTime or Date, an event
    #   receivers reject, or a field BSON cannot hold. Whatever is raised, from a field's
    #   own +to_bson+ or into the thread from outside, the batch is left as it was.
    # @example
    #   batch.add(nil, { version: "1.2" }) #=> true
    def add(time, fields)
      # The clock's own time needs no check against the protocol's range.
      millis = if time.nil?
                 Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
               else
                 millis_of(time)
               end
      whole = document(millis, fields) if envelope_key?(fields)
      # Packed events come first, as they were added; moved whole or not at all.
      Thread.handle_interrupt(DEFER_INTERRUPTS) { move_packed } unless @packed.empty?
      committed = @committed
      start = committed & BYTES_MASK
      # Whatever is raised in here, even into this thread from another (Rack::Timeout,
      # Thread#raise), nothing is committed, and what was written goes before the next write.
      begin
        # What an add cut short left, and on a retry what this one wrote (checked here: a
        # call of cut per event costs more than the check).
        cut(start) unless @buffer.length == start
        if whole
          @buffer.put_bytes(whole.to_bson.to_s)
          length = @buffer.length - start
        else
          stamped_millis, head = @stamped
          @buffer.put_bytes(millis == stamped_millis ? head : stamped_head(millis))
          DIRECT_FIELDS ? @buffer.put_hash(fields, false) : write_fields(fields)
          @buffer.replace_int32(start + @envelope_tail_at, @envelope_tail)
          length = @buffer.length - start
          @buffer.replace_int32(start, length)
          # Only a large event can be too deep (see DEEP_BYTES).
          raise Refused, TOO_DEEP if length > DEEP_BYTES && deeper?(fields, 1)
        end
        if length > MAX_EVENT
          cut(start) # now rather than at the next add: it may be a MiB
          return false
        end
      rescue FarInt64
        raise Refused, FAR_DATE if far_date?(fields, 1)

        # An Int64 field that large, no date: written whole, where nothing checks it.
        whole = document(millis, fields)
        retry
      rescue Refused
        cut(start) # to give the memory back; the next write would cut it anyway
        raise
      rescue *UNENCODABLE => e
        cut(start)
        raise ArgumentError, "event cannot be encoded as BSON: #{e.message}"
      rescue Exception # rubocop:disable Lint/RescueException -- cut, re-raised
        cut(start)
        raise
      end
      # The commit: one assignment, so the event is in the batch, counted, or it is not.
      @committed = committed + COUNT_UNIT + length
      true
    end

    # Appends one event written by a single +Array#pack+ ({Eventstorm::Rack::HitFields}
    # makes the template and values): the envelope's four values (length, type and time key,
    # time, host element) first, then the fields' elements and closing NUL.
    #
    # While the batch holds only such events they are packed straight onto the body, with no
    # String made per event; after an event added with {#add} they are appended in order.
    # Unlike {#add}, it is not safe from exceptions from other threads: the caller defers
    # them (as {#pack_records}' callers do).
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
      committed = @committed
      start = committed & BYTES_MASK
      if start.zero?
        packed = @packed.bytesize
        begin
          values.pack(template, buffer: @packed)
        rescue Exception # rubocop:disable Lint/RescueException -- rolled back, re-raised
          @packed = @packed.byteslice(0, packed)
          raise
        end
        @committed = committed + COUNT_UNIT
      else
        bytes = values.pack(template)
        cut(start)
        @buffer.put_bytes(bytes)
        @committed = committed + COUNT_UNIT + bytes.bytesize
      end
      true
    end

    # The events end to end, as a message body (kept records left out: {#pack_records} first).
    #
    # @return [String] binary
    # @example
    #   batch.body.bytesize == batch.bytesize #=> true
    def body
      bytes = @committed & BYTES_MASK
      return @packed if bytes.zero?

      @buffer.length == bytes ? @buffer.to_s : @buffer.to_s.byteslice(0, bytes)
    end

    private

    def pack_each(records)
      unencodable = oversized = 0
      index = 0
      values = @values
      while index < records.size
        values.clear
        packed = begin
          records[index].pack_record(records[index + 1], values)
          true
        rescue StandardError
          false
        end
        index += 2
        begin
          if !packed
            unencodable += 1
          elsif !add_packed(values[2], values[1], values, values[0])
            oversized += 1
          end
        rescue StandardError # a time receivers reject, values the template refuses
          unencodable += 1
        end
      end
      [unencodable, oversized]
    end

    # What bson-ruby raises for a value or key it cannot write (a nil key: InvalidKey).
    UNENCODABLE = [BSON::Error, NoMethodError, ArgumentError, RangeError, EncodingError,
                   (BSON::InvalidKey if defined?(BSON::InvalidKey))].compact.freeze
    NO_TIME = Object.new.freeze # in a document whose fields name no time
    FAR_DATE = "a date more than 8.64e15 ms from the epoch: receivers reject the event"
    TOO_DEEP = "fields nested deeper than #{Protocol::MAX_NESTING} levels: " \
               "receivers reject the event"
    private_constant :UNENCODABLE, :NO_TIME, :FAR_DATE, :TOO_DEEP

    # The milliseconds bson-ruby writes for a Time (an ActiveSupport::TimeWithZone too), a
    # DateTime or a Date; anything else, an Integer as much as a String, is refused: nothing
    # tells seconds from milliseconds. Raises ArgumentError for one more than 8.64e15 ms from
    # the epoch: receivers reject it.
    def millis_of(time)
      millis = millis_or_nil(time)
      raise ArgumentError, "time: #{time.class} is not a Time, DateTime or Date" unless millis
      if millis.abs > Protocol::MAX_DATE_MS
        raise ArgumentError, "time #{time} is more than 8.64e15 ms from the epoch: " \
                             "receivers reject it"
      end

      millis
    end

    def millis_or_nil(time)
      if time.is_a?(Time) # a TimeWithZone says it is one
        (time.to_i * 1000) + (time.usec / 1000)
      elsif time.is_a?(DateTime)
        millis_or_nil(time.gregorian.to_time)
      elsif time.is_a?(Date)
        (time.jd - EPOCH_JD) * 86_400_000
      end
    end

    # Does +value+, a field of a document at +level+ (the event is level 1), hold a date
    # receivers reject? (Levels are bounded: a Hash that holds itself ends the walk.)
    def far_date?(value, level)
      case value
      when Hash
        level <= Protocol::MAX_NESTING &&
          value.each_value.any? { |item| far_date?(item, level + 1) }
      when Array
        level <= Protocol::MAX_NESTING && value.any? { |item| far_date?(item, level + 1) }
      else
        (millis = millis_or_nil(value)) ? millis.abs > Protocol::MAX_DATE_MS : false
      end
    end

    # Does the Hash or Array +value+, at +level+, nest deeper than receivers accept?
    def deeper?(value, level)
      return true if level > Protocol::MAX_NESTING

      items = value.is_a?(Hash) ? value.each_value : value
      items.any? { |item| (item.is_a?(Hash) || item.is_a?(Array)) && deeper?(item, level + 1) }
    end

    # The envelope with +millis+ as its time, less its last 4 bytes: made once a millisecond.
    def stamped_head(millis)
      head = @envelope.byteslice(0, @envelope_tail_at)
      head[@time_at, 8] = [millis].pack("q<")
      @stamped = [millis, head.freeze].freeze
      head
    end

    # Called with exceptions from other threads deferred: three assignments go together.
    def move_packed
      committed = @committed
      cut(committed & BYTES_MASK)
      @buffer.put_bytes(@packed)
      @committed = committed + @packed.bytesize
      @packed = String.new(encoding: Encoding::BINARY)
    end

    # One native call looking up the six keys costs less than six calls of +key?+.
    def envelope_key?(fields)
      !fields.slice(:type, :time, :host, "type", "time", "host").empty?
    end

    # The whole event as a Hash, for the events {#add} does not write in place: those whose
    # fields name the envelope's own (checked here as receivers check them), or hold an Int64
    # beyond the range of dates. Its dates and depth are checked here, where the bytes are not.
    def document(millis, fields)
      document = { "type" => @type, "time" => NO_TIME, "host" => @host }
      fields.each { |key, value| document[key.to_s] = value }
      raise ArgumentError, "field type #{document['type'].inspect} is not the event's type" unless
        document["type"] == @type
      raise ArgumentError, "field host must be a String, not #{document['host'].class}" unless
        document["host"].is_a?(String)

      time = document["time"]
      millis = millis_of(time) unless time.equal?(NO_TIME) # a time field of the event's own
      document["time"] = Time.at(millis / 1000, millis % 1000, :millisecond)
      raise Refused, FAR_DATE if far_date?(document, 1)
      raise Refused, TOO_DEEP if deeper?(document, 1)

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

    # Whether this bson-ruby writes dates through Buffer#put_int64, as 4.x and 5.x do. Were
    # one to write them natively, each event's fields would be looked at for far dates.
    def self.dates_through_put_int64?
      far = Time.at(0, Protocol::MAX_DATE_MS + 1, :millisecond)
      new("a", "h", envelope("a", "h")).send(:write_fields, { "t" => far })
      false
    rescue FarInt64
      true
    end
    private_class_method :dates_through_put_int64?

    DATES_THROUGH_PUT_INT64 = dates_through_put_int64?
    # Whether {#add} calls bson-ruby 4's writer itself, saving a method call an event: where
    # write_fields does no more.
    DIRECT_FIELDS = PUT_HASH_ARITY == 2 && DATES_THROUGH_PUT_INT64
    private_constant :DATES_THROUGH_PUT_INT64, :DIRECT_FIELDS

    unless DATES_THROUGH_PUT_INT64
      alias_method :write_unchecked, :write_fields
      def write_fields(fields)
        raise FarInt64 if far_date?(fields, 1)

        write_unchecked(fields)
      end
    end

    # Drops the bytes of @buffer past +length+ (those of an event not committed). ByteBuffer
    # cannot shrink: the bytes kept go into a new one, put in place by one assignment, so an
    # exception in the middle leaves the old one, to be cut again.
    def cut(length)
      return if @buffer.length == length

      buffer = Buffer.new
      buffer.put_bytes(@buffer.to_s.byteslice(0, length))
      @buffer = buffer
    end
  end
end
