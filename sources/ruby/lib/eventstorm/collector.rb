# frozen_string_literal: true

require "ffi-rzmq"

module Eventstorm
  # Receives events on a SUB socket, validates every message as docs/protocol.md says and
  # accounts each stream exactly: +lost+ events, skipped +duplicates+, +rejected+ documents
  # and +malformed+ messages by drop reason. An Enumerable of the delivered events. It
  # refuses what a hostile peer could do with valid-looking headers as core's receivers do
  # (docs/security-notes.md, {Streams}).
  #
  # Given several endpoints (routers that carry the same streams: docs/protocol.md 5.2,
  # redundant paths), it holds gaps: what one path skips waits {Streams::GAP_HOLD} seconds for
  # another path's copies, which are then delivered (late, after events with higher indexes)
  # rather than counted as duplicates; a gap nobody fills is counted lost when the hold ends.
  #
  # Not thread-safe: use one collector per thread.
  #
  # {#each} and {#receive} give the events; {#each_delivery} and {#receive_delivery} give
  # each with the stream it came on and its index there ({Delivery}), as core/collector.ts's
  # batches say where they start.
  #
  # @example
  #   collector = Eventstorm::Collector.new(">tcp://127.0.0.1:5556", prefixes: ["http."])
  #   collector.each(timeout: 5) { |event| puts event["path"] }
  #   collector.stats[:lost] #=> 0
  #   collector.close
  class Collector
    include Enumerable

    # A delivered event and where it came from: its +topic+, the +source+ id of the stream
    # and the event's +index+ in it (docs/protocol.md 2.3), both nil for an event of a
    # two-frame message, which has no header. With redundant paths an event that fills a
    # gap comes after events with higher indexes: sort by +[source, topic, index]+ if order
    # matters.
    #
    # @!attribute [r] event
    #   @return [BSON::Document] the event, as {Collector#receive} gives it
    # @!attribute [r] topic
    #   @return [String]
    # @!attribute [r] source
    #   @return [Integer, nil] the stream's source id (1 to 2**64 - 1)
    # @!attribute [r] index
    #   @return [Integer, nil] the event's index in the stream of +source+ and +topic+
    # @example
    #   delivery = collector.receive_delivery(timeout: 1)
    #   delivery.index #=> 41
    #   event, topic, source, index = *delivery
    Delivery = Struct.new(:event, :topic, :source, :index)

    # @param endpoints [String, Array<String>] where to subscribe, e.g. ">tcp://router:5556"
    # @param prefixes [Array<String>, String] topic prefixes to subscribe to ("" is everything)
    # @param curve [Hash, nil] CURVE client keys, as for {Emitter#initialize}
    # @param max_message_size [Integer] ZMQ_MAXMSGSIZE: larger senders are disconnected
    # @param gap_hold [Float, nil] seconds a gap in a stream waits to be filled by another
    #   path before it is lost (see {Streams}); nil chooses {Streams::GAP_HOLD} for more than
    #   one endpoint, else 0: lost at once
    # @raise [ArgumentError] for a malformed endpoint, prefix or +gap_hold+
    # @raise [Eventstorm::Error] for an endpoint libzmq refuses or a bad CURVE key
    # @example
    #   Eventstorm::Collector.new("@tcp://*:5556", prefixes: [""])
    # @example Redundant paths: one source publishing to two routers
    #   Eventstorm::Collector.new([">tcp://r1:5556", ">tcp://r2:5556"])
    def initialize(endpoints = ">tcp://127.0.0.1:5556", prefixes: [""], curve: nil,
                   max_message_size: Protocol::MAX_MESSAGE, gap_hold: nil)
      prefixes = Array(prefixes)
      unless prefixes.all?(String)
        raise ArgumentError, "prefixes: Strings, not #{prefixes.map(&:class).uniq.join(', ')}"
      end

      @endpoints = endpoints
      parsed = Endpoint.parse(endpoints)
      # Only where sources connect (the collector only binds) is a peer a stream's owner: the
      # peers of a collector connected to routers are routers, which may carry one stream
      # twice (a replay, not a forgery), and with both kinds one socket cannot tell which
      # way a message came.
      @judge_owners = parsed.all? { |mode, _| mode == :bind }
      curve = Curve::Options.new(curve) if curve
      # Several routers carry the same streams: a gap one path leaves may be filled by
      # another, late, so it waits before it is lost.
      gap_hold = parsed.size > 1 ? Streams::GAP_HOLD : 0 if gap_hold.nil?
      @streams = Streams.new(gap_hold: gap_hold)
      # Events to deliver, three entries each: the event, its message's [topic, source] (one
      # frozen pair a message) and its index. One Array, so that taking an event is one call
      # (Array#shift(3)), which no exception from another thread can cut in two.
      @pending = []
      @stats = { messages: 0, events: 0, announcements: 0, duplicates: 0, rejected: 0,
                 unaccounted: 0, malformed: Hash.new(0) }
      @context = ZMQ::Context.new or raise Error, "zmq_ctx_new failed"
      open(endpoints, prefixes, curve, max_message_size)
    end

    # Yields each delivered event (a BSON::Document with string keys).
    #
    # @param timeout [Float, nil] stop after this many seconds without an event; nil waits
    #   forever
    # @yieldparam event [BSON::Document]
    # @return [Enumerator, self]
    # @example
    #   collector.each(timeout: 1).first(10)
    def each(timeout: nil)
      return enum_for(:each, timeout: timeout) unless block_given?

      while (event = receive(timeout: timeout))
        yield event
      end
      self
    end

    # Yields each delivered event with its topic, source and index, as a {Delivery}.
    #
    # @param timeout [Float, nil] stop after this many seconds without an event; nil waits
    #   forever
    # @yieldparam delivery [Delivery]
    # @return [Enumerator, self]
    # @example
    #   collector.each_delivery(timeout: 1) do |delivery|
    #     puts "#{delivery.source} #{delivery.topic} #{delivery.index}: #{delivery.event}"
    #   end
    def each_delivery(timeout: nil)
      return enum_for(:each_delivery, timeout: timeout) unless block_given?

      while (delivery = receive_delivery(timeout: timeout))
        yield delivery
      end
      self
    end

    # The next delivered event.
    #
    # @param timeout [Float, nil] seconds to wait; nil waits forever
    # @return [BSON::Document, nil] nil when +timeout+ passed
    # @example
    #   collector.receive(timeout: 0.5)
    def receive(timeout: nil)
      return nil unless wait_pending(timeout)

      @pending.shift(3)[0]
    end

    # The next delivered event with its topic, source and index.
    #
    # @param timeout [Float, nil] seconds to wait; nil waits forever
    # @return [Delivery, nil] nil when +timeout+ passed
    # @example
    #   collector.receive_delivery(timeout: 0.5)&.index #=> 0
    def receive_delivery(timeout: nil)
      return nil unless wait_pending(timeout)

      event, (topic, source), index = @pending.shift(3)
      Delivery.new(event, topic, source, index)
    end

    # Accounts one message given as frames and returns the events it delivers; what
    # {#receive} does with each message it reads.
    #
    # @param frames [Array<String>]
    # @param owner [String, nil] the peer it came from, to judge who owns a source (see
    #   {Streams}); nil judges nothing
    # @return [Array<BSON::Document>]
    # @example
    #   collector.handle(["app.x", header, body]).size
    def handle(frames, owner: nil)
      before = @pending.size
      deliver(Protocol.parse(frames), owner)
      (before...@pending.size).step(3).map { |at| @pending[at] }
    rescue Protocol::Invalid => e
      @stats[:malformed][e.reason] += 1
      []
    end

    # @return [Hash] +messages+, +events+ (delivered), +announcements+, +lost+, +duplicates+,
    #   +rejected+ (documents with an invalid envelope, nested past 100 levels or with a date
    #   past 8.64e15 ms), +unaccounted+ (events of two-frame messages), +malformed+
    #   ({reason => messages}: the validation's reasons, and as core's collector counts them
    #   +"index"+ for an index jump no sender can make and +"owner"+ for a source claimed by
    #   another peer than its owner, judged when the collector only binds; see {Streams}),
    #   +streams+. With gap holding (several endpoints) +lost+ counts a gap once its hold
    #   is over, when read here as well as when a later message comes.
    # @example
    #   collector.stats[:lost] #=> 0
    def stats
      @stats.merge(lost: @streams.lost, malformed: @stats[:malformed].dup,
                   streams: @streams.size)
    end

    # Names the endpoints only: ffi-rzmq's poller, which the default would show, raises in
    # its own #inspect.
    #
    # @return [String]
    # @example
    #   collector.inspect #=> "#<Eventstorm::Collector \">tcp://127.0.0.1:5556\">"
    def inspect
      "#<#{self.class.name} #{@endpoints.inspect}#{' closed' if @socket.nil?}>"
    end
    alias to_s inspect

    # @param printer [PP]
    # @return [void]
    # @example
    #   pp collector
    def pretty_print(printer)
      printer.text(inspect)
    end

    # Closes the socket and the context. Gaps still held for another path (docs/protocol.md
    # 5.2) count as lost now, in {#stats}: nothing can fill them any more.
    #
    # @return [void]
    # @example
    #   collector.close
    def close
      return if @socket.nil?

      @streams.close_gaps
      Sockets.release(self, @context, @socket)
      @socket = nil
    end

    private

    # A constructor that fails once the socket is open closes it: left to the GC, ffi-rzmq
    # could terminate the context before the socket is closed, which hangs (see Sockets.guard).
    def open(endpoints, prefixes, curve, max_message_size)
      options = { ZMQ::MAXMSGSIZE => max_message_size, ZMQ::LINGER => 0 }
      @socket = Sockets.open(@context, ZMQ::SUB, endpoints, curve: curve, options: options)
      Sockets.guard(self, @context, @socket)
      prefixes.each do |prefix|
        next unless @socket.setsockopt(ZMQ::SUBSCRIBE, prefix).negative?

        raise Error, "subscribe #{prefix.inspect}: #{ZMQ::Util.error_string}"
      end
      @poller = ZMQ::Poller.new
      @poller.register_readable(@socket)
    rescue Exception # rubocop:disable Lint/RescueException -- closed, re-raised
      Sockets.release(self, @context, @socket)
      @socket = nil
      raise
    end

    # Reads messages until one delivers an event, or +timeout+ passes (false).
    def wait_pending(timeout)
      deadline = timeout && Eventstorm.monotonic + timeout
      while @pending.empty?
        wait = deadline ? deadline - Eventstorm.monotonic : 1.0
        return false if wait <= 0

        next unless readable?((wait * 1000).ceil.clamp(1, 1000))

        # An exception from another thread (Thread#raise, a Timeout) comes while the socket
        # is waited for, or once a message is read whole, accounted and its events pending.
        # Half-way, the rest of a message's frames would be read as the next message, or its
        # events counted as received and never delivered.
        Thread.handle_interrupt(Batch::DEFER_INTERRUPTS) do
          # A message's frames arrive together: once the first is there, all are.
          if @judge_owners
            frames, peer = Sockets.receive_from(@socket)
          else
            frames = Sockets.receive_frames(@socket)
          end
          handle(frames, owner: peer) if frames
        end
      end
      true
    end

    def readable?(milliseconds)
      @poller.poll(milliseconds).positive?
    end

    def deliver(message, owner)
      documents = message.documents.map do |bytes|
        Protocol.decode(bytes)
      rescue Protocol::Invalid => e
        # Too deep is one rejected event; anything else drops the message.
        raise unless e.reason == "depth"
      end
      skip = 0
      first = message.first
      if message.source
        _, skip, refused, keep = @streams.account(source: message.source, topic: message.topic,
                                                  first: message.first, count: message.count,
                                                  owner: owner)
        raise Protocol::Invalid, refused if refused

        @stats[:messages] += 1
        @stats[:duplicates] += skip
        @stats[:announcements] += 1 if message.count.zero?
      else
        @stats[:messages] += 1
        @stats[:unaccounted] += documents.size
      end
      origin = [message.topic, message.source].freeze
      # Pieces only where a message fills gaps another path left (rare).
      (keep || [skip...documents.size]).each do |range|
        range.each do |offset|
          document = documents[offset]
          if document && Protocol.event?(document, message.topic)
            @stats[:events] += 1
            @pending.push(document, origin, first && (first + offset))
          else
            @stats[:rejected] += 1
          end
        end
      end
    end
  end
end
