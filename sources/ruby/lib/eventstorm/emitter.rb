# frozen_string_literal: true

require "securerandom"
require "socket"
require "bson"
require "ffi-rzmq"

module Eventstorm
  # Sends events as protocol v1 messages on an XPUB socket.
  #
  # - **Batching**: events are grouped per topic into one message of up to +batch_size+
  #   events or +batch_bytes+ bytes, sent at the latest +linger+ seconds after its first event.
  # - **Stream index**: each topic is numbered from 0 under a random +source+ id, so receivers
  #   count every loss exactly.
  # - **Subscribers first**: the XPUB socket sees the subscriptions of the router or sinks.
  #   Until one arrives nothing is sent: up to +hold+ events wait (beyond that they are dropped
  #   and counted); then only topics some subscriber wants are sent (others are counted as
  #   +unwanted+, they are no loss).
  # - **Never blocks**: a message the socket cannot queue (its high-water mark reached: the
  #   router pushes back) waits with the held ones, within +hold+ and +hold_bytes+; beyond
  #   them it is dropped and counted in +dropped+, its indexes used, so receivers count the
  #   loss too.
  # - **Position announcements**: each topic idle for a second is announced every second, and
  #   once more on {#close}.
  # - **Threads**: every method may be called from any thread (Puma's threads share one
  #   emitter); one mutex guards the batches and the socket, and a background thread sends
  #   aged batches and announcements.
  # - **Fork**: an emitter used in a forked child (Puma or Unicorn workers) notices the fork
  #   on its next call (see {Forks}) and reopens itself: new ZeroMQ context and socket, new
  #   +source+ id, indexes from 0. Events still batched in the parent at fork time are the
  #   parent's to send; the child discards its copy of them.
  # - **Exit**: an emitter still open when its process exits is closed by an +at_exit+ hook
  #   (see +close_at_exit:+), in each process that used it.
  #
  # @example
  #   emitter = Eventstorm::Emitter.new(">tcp://127.0.0.1:5555", host: "web1")
  #   emitter.emit("app.deploy", version: "1.2")
  #   emitter.close
  class Emitter
    # How often the background thread looks at aged batches and idle topics.
    TICK = 0.02
    # An idle topic is announced this often (seconds).
    ANNOUNCE_EVERY = 1.0
    # Announcements sent per hold of the lock: emit waits for one group at most.
    ANNOUNCE_GROUP = 64
    # Larger single events are dropped and counted (+oversized+), as eventstorm's own
    # emitters do, keeping every message far below the protocol's 16 MiB limit.
    MAX_EVENT = Batch::MAX_EVENT
    # Bounds of the options (see #initialize): a message's count is a u32, and a batch of
    # batch_bytes plus one event of MAX_EVENT stays under the protocol's 16 MiB.
    MAX_BATCH_SIZE = 1_000_000
    MAX_BATCH_BYTES = Protocol::MAX_MESSAGE - (2 * Batch::MAX_EVENT)
    MAX_SECONDS = 86_400
    MAX_INT32 = (2**31) - 1
    # Serializes reopening after fork (a child's first calls may come from several threads).
    REOPEN = Mutex.new
    FORKS_TRACKED = Forks.tracked?
    private_constant :MAX_BATCH_SIZE, :MAX_BATCH_BYTES, :MAX_SECONDS, :MAX_INT32, :REOPEN,
                     :FORKS_TRACKED

    # @return [String] the +host+ of every event
    attr_reader :host

    # @param endpoints [String, Array<String>] where to publish, e.g. ">tcp://router:5555"
    #   (see {Endpoint.parse})
    # @param host [String] the +host+ field of every event, as UTF-8: Socket.gethostname's
    #   bytes, the default, are read as UTF-8, and bytes that are not valid UTF-8 written as
    #   U+FFFD, as the Rack middleware writes such text
    # @param curve [Hash, nil] CURVE client keys: +server_key:+ (an Array for routers with key
    #   pairs of their own: one per endpoint, in order) and either +secret_key:+ with
    #   +public_key:+ or +certificate:+ (see {Curve.apply})
    # @param batch_size [Integer] events per message at most
    # @param batch_bytes [Integer] body bytes per message at most
    # @param linger [Float] seconds an incomplete batch waits before it is sent
    # @param hold [Integer] events kept while no subscriber is connected or the socket's queue
    #   is full
    # @param hold_bytes [Integer] bytes of those events kept at most (per process, so per
    #   Puma worker: 100,000 events of 4 KB would be 400 MB)
    # @param high_water_mark [Integer] ZMQ_SNDHWM, messages queued in libzmq per peer (beyond
    #   them the emitter holds, as +hold+ says: libzmq's queue is not bounded in bytes)
    # @param close_at_exit [Float, false] seconds {#close} may take when the process exits
    #   with the emitter still open (each process closes the emitters it used: a Puma worker
    #   its own), or false to leave that to the caller
    # @raise [ArgumentError] for a malformed endpoint or an option of the wrong type or out of
    #   range (one line naming it: a String from ENV, say, would otherwise fail only later,
    #   in every emit or in the background thread)
    # @raise [Eventstorm::Error] for an endpoint libzmq refuses or a bad CURVE key
    # @example
    #   Eventstorm::Emitter.new(">tcp://127.0.0.1:5555", host: "web1", batch_size: 100)
    def initialize(endpoints = ">tcp://127.0.0.1:5555", host: Socket.gethostname, curve: nil,
                   batch_size: 512, batch_bytes: 256 * 1024, linger: 0.05, hold: 100_000,
                   hold_bytes: 64 << 20, high_water_mark: 64, close_at_exit: 2.0)
      Endpoint.parse(endpoints) # a malformed one refused before anything is opened
      check(:batch_size, batch_size, Integer, 1..MAX_BATCH_SIZE)
      check(:batch_bytes, batch_bytes, Integer, 1..MAX_BATCH_BYTES)
      check(:linger, linger, Numeric, 0..MAX_SECONDS)
      check(:hold, hold, Integer, 0..)
      check(:hold_bytes, hold_bytes, Integer, 0..)
      check(:high_water_mark, high_water_mark, Integer, 0..MAX_INT32)
      check(:close_at_exit, close_at_exit, Numeric, 0..MAX_SECONDS) if close_at_exit
      @endpoints = endpoints
      @host = utf8_host(host)
      # Kept to reopen after fork, where nothing shows the keys (see Curve::Options).
      @curve = curve && Curve::Options.new(curve)
      @batch_size = batch_size
      @batch_bytes = batch_bytes
      # Records emit_record keeps before it packs them: a batch under batch_bytes takes that
      # many events of MAX_EVENT at most and stays under the protocol's limit (15 by default).
      @records_per_pack = ((Protocol::MAX_MESSAGE - batch_bytes) / (MAX_EVENT + 1024)).clamp(1, 64)
      @linger = linger
      @hold_limit = hold
      @hold_bytes = hold_bytes
      @high_water_mark = high_water_mark
      @close_at_exit = close_at_exit
      @closed = false
      open
    end

    # Queues one event; never blocks on the network.
    #
    # @param type [String] the topic, dotted lower case (e.g. "app.deploy")
    # @param time [Time, DateTime, Date] when it happened (default now)
    # @param fields [Hash] the event's own fields, flat; keys become strings
    # @return [void]
    # @raise [ArgumentError] for an invalid type, a +time+ that is not a Time, DateTime or Date
    #   (an Integer could be seconds or milliseconds), or what every receiver rejects: a date
    #   (+time+ or in a field) more than 8.64e15 ms from the epoch, fields nested deeper than
    #   100 levels; or a field BSON cannot hold. A refused event is in no count.
    # @raise [Eventstorm::Error] after {#close}
    # @example
    #   emitter.emit("app.deploy", version: "1.2", took: 3.5)
    def emit(type, time: nil, **fields)
      into_batch(type) { |batch| add_event(batch, time, fields) } # as emit_hash, one call less
    end

    # {#emit} with the fields as a Hash, for a caller that builds one per event anyway (a
    # middleware): no keyword splat copies it, and String keys, unlike Symbols, need no
    # String made for them on the way to BSON.
    #
    # @param type [String] the topic, dotted lower case
    # @param fields [Hash{String, Symbol => Object}] the event's own fields, flat; of a key
    #   given as a String and as a Symbol, the last one counts (receivers read it so)
    # @param time [Time, DateTime, Date] when it happened (default now)
    # @return [void]
    # @raise [ArgumentError, Eventstorm::Error] as {#emit}
    # @example
    #   emitter.emit_hash("http.hit", { "path" => "/", "status" => 200 })
    def emit_hash(type, fields, time: nil)
      into_batch(type) { |batch| add_event(batch, time, fields) }
    end

    # {#emit} for an event kept as a +record+ and written by +writer+: one +Array#pack+ onto
    # the batch (see {Batch#add_packed}), no Hash and no bson-ruby, as {Eventstorm::Rack}
    # emits after each response. The batch keeps the record and packs it with others (15 at
    # a time with the default +batch_bytes+), and whenever the batch is sent, {#stats} read
    # or another event of the type emitted, so events keep the order they came in: a server
    # runs much else between two requests, and a record packed as it comes finds the pack's
    # code and data out of the CPU's caches. A record the writer cannot write is counted in
    # +unencodable+ when it is packed, not raised.
    #
    # @api private
    # @param type [String] the topic, dotted lower case
    # @param writer [#pack_record] answers +pack_record(record)+ with the arguments of
    #   {Batch#add_packed}
    # @param record [Object] what the writer needs
    # @return [void]
    # @raise [ArgumentError, Eventstorm::Error] for an invalid type, or after {#close}
    # @example
    #   emitter.emit_record("http.hit", Eventstorm::Rack::HitFields, record)
    def emit_record(type, writer, record)
      into_batch(type) do |batch|
        batch.add_record(writer, record)
        pack_records(batch) if batch.records >= @records_per_pack
        true
      end
    end

    # Sends every batched event and waits until libzmq has them or +timeout+ passes.
    #
    # @param timeout [Float] seconds to wait for a subscriber at most
    # @return [Boolean] true when nothing is left waiting in the emitter
    # @example
    #   emitter.flush(timeout: 2) #=> true
    def flush(timeout: 5.0)
      reopen_after_fork if forked?
      deadline = Eventstorm.monotonic + timeout
      loop do
        # As in close_batch: held batches sent half-way when an exception came from another
        # thread would be sent, and counted, twice.
        done = Thread.handle_interrupt(Batch::DEFER_INTERRUPTS) do
          @mutex.synchronize do
            @batches.each_key.to_a.each { |topic| close_batch(topic) }
            send_held
            @held.empty?
          end
        end
        return true if done
        return false if Eventstorm.monotonic >= deadline

        sleep TICK
      end
    end

    # Flushes, announces every topic's next index and closes the socket, letting libzmq send
    # what it queued for up to +timeout+ seconds. Events still held then are dropped and
    # counted, in +overflow+ when no subscriber came, else in +dropped+ (the queue stayed
    # full), their indexes used, so receivers count them lost.
    # Calling it again does nothing and returns what the first call returned.
    #
    # In a signal handler (Signal.trap), where Ruby lets no Mutex be locked, the closing runs
    # on a thread of its own, waited for +timeout+ seconds at most: the code the signal
    # interrupted may hold the emitter's lock, which it releases only once the handler is done
    # (false then; the closing goes on, and an exit waits for it).
    #
    # @param timeout [Float] seconds
    # @return [Boolean] true when everything was handed to libzmq
    # @example
    #   emitter.close(timeout: 2)
    def close(timeout: 5.0)
      return close_on_thread(timeout) if trap_context?

      reopen_after_fork if forked?
      @closing.synchronize do
        return @closed_with unless @closed_with.nil?

        deadline = Eventstorm.monotonic + timeout
        flushed = flush(timeout: timeout)
        drop_held unless flushed
        announce_all(deadline)
        @mutex.synchronize { @closed = true }
        @thread.join
        @socket.setsockopt(ZMQ::LINGER, (timeout * 1000).to_i)
        Sockets.release(self, @context, @socket)
        AtExit.forget(self)
        @closed_with = flushed
      end
    end

    # This stream's id; a forked child's own from its first call on (this one included).
    #
    # @return [Integer]
    # @example
    #   emitter.source #=> 12345678901234567890
    def source
      reopen_after_fork if forked?
      @source
    end

    # Names the endpoints and the host only (never the CURVE keys).
    #
    # @return [String]
    # @example
    #   emitter.inspect #=> "#<Eventstorm::Emitter \">tcp://127.0.0.1:5555\" host=\"web1\">"
    def inspect
      "#<#{self.class.name} #{@endpoints.inspect} host=#{@host.inspect}#{' closed' if @closed}>"
    end
    alias to_s inspect

    # @param printer [PP]
    # @return [void]
    # @example
    #   pp emitter
    def pretty_print(printer)
      printer.text(inspect)
    end

    # @return [Boolean] whether {#close} was called (in this process)
    # @example
    #   emitter.closed? #=> false
    def closed?
      @closed
    end

    # Counters since the emitter was opened (or reopened after fork).
    #
    # @return [Hash{Symbol=>Integer}] +emitted+ (events given to {#emit}), +sent+ (events
    #   handed to libzmq), +messages+, +announcements+, +dropped+ (events a full queue
    #   refused and the emitter could not hold), +overflow+ (events dropped while no
    #   subscriber was there), +oversized+ (events over {MAX_EVENT} bytes, dropped),
    #   +unencodable+ (records of {#emit_record} their writer could not write, dropped),
    #   +unwanted+ (events of topics no subscriber wants), +thread_errors+ (unexpected errors
    #   of the background thread, which goes on), +waiting+ (events batched or held),
    #   +source+, +pid+
    # @example
    #   emitter.stats[:dropped] #=> 0
    def stats
      reopen_after_fork if forked? # a child's own counts, not its copy of the parent's
      @mutex.synchronize do
        @batches.each_value { |batch| pack_records(batch) } # their refusals counted
        batched = @batches.each_value.sum(&:count)
        # Every event given is in a batch, taken out of one or refused (and counted): no
        # count per event that an exception from another thread could leave behind.
        emitted = @taken + batched + @stats[:oversized] + @stats[:unencodable]
        { emitted: emitted }.merge(@stats, waiting: batched + @held_events, source: @source,
                                           pid: @pid, subscribed: !@subscriptions.empty?)
      end
    end

    private

    # Socket.gethostname answers BINARY, which the envelope could not write as UTF-8: every
    # emit failed on a host named with a byte above 127 (encode raised), and the middleware
    # dropped every event.
    def utf8_host(host)
      unless host.is_a?(String) || host.is_a?(Symbol)
        raise ArgumentError, "host: expected a String, not #{host.class}"
      end

      text = host.to_s
      text = case text.encoding
             when Encoding::UTF_8, Encoding::BINARY, Encoding::US_ASCII
               text.dup.force_encoding(Encoding::UTF_8)
             else text.encode(Encoding::UTF_8, invalid: :replace, undef: :replace)
             end
      text.scrub.freeze
    end

    def check(name, value, type, range)
      return if value.is_a?(type) && range.cover?(value)

      bounds = range.end ? "from #{range.begin} to #{range.end}" : "of #{range.begin} or more"
      raise ArgumentError, "#{name}: expected #{type == Integer ? 'an Integer' : 'a number'} " \
                           "#{bounds}, not #{value.inspect[0, 40]}"
    end

    # Sets @forks and @pid last: a thread that sees them current finds everything else ready.
    def open
      @mutex = Mutex.new
      @closing = Mutex.new # one close at a time
      @closed_with = nil # what close returned
      @source = SecureRandom.random_number(2**64 - 1) + 1
      @next = Hash.new(0)
      # topic => when its last message (events or announcement) went, oldest first: the
      # topics due for an announcement are at its front (see announce_idle).
      @last_sent = {}
      @batches = {} # topic => Batch
      @types = {}
      # [topic, encoded events, count] while no subscriber is there or the queue is full
      @held = []
      @held_events = 0
      @held_bytes = 0
      @subscriptions = []
      @taken = 0 # events of the batches close_batch took out
      @stats = Hash.new(0).merge(sent: 0, messages: 0, announcements: 0, dropped: 0,
                                 overflow: 0, unwanted: 0, oversized: 0, unencodable: 0,
                                 thread_errors: 0)
      @context = ZMQ::Context.new or raise Error, "zmq_ctx_new failed"
      options = { ZMQ::SNDHWM => @high_water_mark, ZMQ::LINGER => 0, Sockets::XPUB_NODROP => 1 }
      begin
        @socket = Sockets.open(@context, ZMQ::XPUB, @endpoints, curve: @curve, options: options)
        # Left unclosed, the socket and context are closed in that order (see Sockets.guard).
        Sockets.guard(self, @context, @socket)
      rescue Exception # rubocop:disable Lint/RescueException -- released, re-raised
        Sockets.release(self, @context, nil) # Sockets.open closed the socket
        raise
      end
      @thread = Thread.new { background }
      @thread.name = "eventstorm-emitter" if @thread.respond_to?(:name=)
      AtExit.register(self) if @close_at_exit
      @pid = Process.pid
      @forks = Forks.count
    end

    # Ruby refuses to lock a Mutex in a signal handler ("can't be called from trap context").
    def trap_context?
      Mutex.new.synchronize { false }
    rescue ThreadError
      true
    end

    def close_on_thread(timeout)
      closing = Thread.new { close(timeout: timeout) }
      closing.report_on_exception = false
      closing.join(timeout) ? closing.value : false
    end

    # Held events a failed flush leaves (no subscriber came, or the queue stayed full) are
    # dropped and counted, their indexes used: the closing announcements then tell receivers
    # they are lost. An exception from another thread waits (as in close_batch): half-way, the
    # close called again would count the first ones twice.
    def drop_held
      Thread.handle_interrupt(Batch::DEFER_INTERRUPTS) do
        @mutex.synchronize do
          counter = refusal
          @held.each do |topic, _body, count|
            @next[topic] += count
            @stats[counter] += count
          end
          @held.clear
          @held_events = 0
          @held_bytes = 0
        end
      end
    end

    # Closes, when the process exits, the emitters it opened and did not close (see
    # +close_at_exit:+): batched events would be lost, and with them the closing
    # announcements that let receivers count that loss. One hook for all, installed with
    # the first; a forked child inherits it, and closes only the emitters it reopened
    # itself: those it never used hold the parent's events and socket.
    module AtExit
      @emitters = {}.compare_by_identity
      @lock = Mutex.new

      class << self
        # @param emitter [Emitter]
        # @return [void]
        def register(emitter)
          @lock.synchronize do
            at_exit { AtExit.close_all } unless @installed
            @installed = true
            @emitters[emitter] = true
          end
        end

        # @param emitter [Emitter]
        # @return [void]
        def forget(emitter)
          @lock.synchronize { @emitters.delete(emitter) }
        end

        # @return [void]
        def close_all
          @lock.synchronize { @emitters.keys }.each { |emitter| emitter.__send__(:close_at_exit) }
        end
      end
    end
    private_constant :AtExit

    def close_at_exit
      return if @closed || forked?

      close(timeout: @close_at_exit)
    rescue StandardError => e
      warn "eventstorm: closing #{inspect} at exit: #{e.class}: #{e.message}"
    end

    def forked?
      FORKS_TRACKED ? @forks != Forks.count : Process.pid != @pid
    end

    # The parent's context, socket and thread do not exist for us: libzmq contexts must not
    # be used across fork, so the child keeps its hands off them (ffi-rzmq's finalizers only
    # close them in the process that created them) and opens its own.
    # Several threads of a new worker may notice the fork at once: one reopens.
    def reopen_after_fork
      REOPEN.synchronize do
        next unless forked?

        if @closed
          @forks = Forks.count
          @pid = Process.pid
        else
          open
        end
      end
    end

    # Sends aged batches and announcements every TICK. An unexpected error (the options are
    # checked, so none is known) is counted in +thread_errors+, the first also printed, and
    # the thread goes on: ended, it would leave batches to go only when full.
    def background
      until @closed
        sleep TICK
        begin
          @mutex.synchronize do
            break if @closed

            poll_subscriptions
            close_aged(Eventstorm.monotonic)
            send_held
          end
          # The lock is let go between groups of announcements: with thousands of idle
          # topics due at once, emit would otherwise wait for all of them.
          Thread.pass until @closed || @mutex.synchronize { announce_idle(Eventstorm.monotonic) }
        rescue StandardError => e
          errors = @mutex.synchronize { @stats[:thread_errors] += 1 }
          warn "eventstorm: emitter thread: #{e.class}: #{e.message} (counted in thread_errors)" if
            errors == 1
        end
      end
    end

    # Adds an event to +type+'s batch (the block writes it: true, false when the event is
    # too large) and sends the batch when full. Nothing here needs exceptions from other
    # threads deferred (see close_batch): an event is in its batch, and so counted in
    # +emitted+, once its writing returns (see Batch#add).
    def into_batch(type)
      reopen_after_fork if forked?
      @mutex.synchronize do
        # An open batch of the type: the type is valid. Else it is checked (once) for a new
        # batch, a bad one refused before a closed emitter.
        batch = @batches[type]
        name, envelope = @types[type] || known_type(type) unless batch
        raise Error, "emitter is closed" if @closed

        batch ||= (@batches[name] ||= Batch.new(name, @host, envelope))
        if !yield(batch)
          @stats[:oversized] += 1
        elsif batch.count >= @batch_size || batch.bytesize >= @batch_bytes
          close_batch(batch.type)
        end
      end
      nil
    end

    # Validates a type once; the frozen copy is the batch's key from then on.
    def known_type(type)
      name = type.to_s
      raise ArgumentError, "invalid event type #{name.inspect}" unless Protocol.valid_topic?(name)
      if name.start_with?("eventstorm.")
        raise ArgumentError, "event type #{name.inspect}: eventstorm. is reserved for eventstorm"
      end

      @types.clear if @types.size >= 1024
      name = name.dup.freeze
      @types[type] = [name, Batch.envelope(name, @host)]
    end

    # {Batch#add}, after the records the batch keeps: events go out in the order they came.
    def add_event(batch, time, fields)
      pack_records(batch) unless batch.records.zero?
      batch.add(time, fields)
    end

    # Packs the records +batch+ keeps and counts those it had to leave out. An exception
    # from another thread (Thread#raise, Rack::Timeout's) waits until that is done, so each
    # record is written once or counted.
    def pack_records(batch)
      Thread.handle_interrupt(Batch::DEFER_INTERRUPTS) do
        unencodable, oversized = batch.pack_records
        @stats[:unencodable] += unencodable
        @stats[:oversized] += oversized
      end
    end

    # Takes +topic+'s batch out, numbers it, and sends it, holds it or drops it. An exception
    # from another thread waits until that is done: a batch taken out and not yet counted
    # would be lost uncounted.
    def close_batch(topic)
      Thread.handle_interrupt(Batch::DEFER_INTERRUPTS) do
        batch = @batches.delete(topic) or break
        pack_records(batch)
        @taken += batch.count
        break if batch.count.zero? # its only event could not be encoded

        hand_over(topic, batch.body, batch.count)
      end
    end

    # Sends a batch's events, after those held before it, or holds them while no subscriber
    # is there or the queue is full (dropped and counted beyond +hold+ events or
    # +hold_bytes+).
    def hand_over(topic, body, count)
      poll_subscriptions
      send_held
      return if @held.empty? && !@subscriptions.empty? && publish(topic, body, count)

      if @held_events + count <= @hold_limit && @held_bytes + body.bytesize <= @hold_bytes
        @held << [topic, body, count]
        @held_events += count
        @held_bytes += body.bytesize
      else
        @next[topic] += count
        @stats[refusal] += count
      end
    end

    # Where a batch the emitter cannot send nor hold is counted: +overflow+ with nobody
    # subscribed, +dropped+ when a subscriber's queue is full.
    def refusal
      @subscriptions.empty? ? :overflow : :dropped
    end

    # Sends the held batches in order, up to the first the queue refuses.
    def send_held
      return if @held.empty?

      poll_subscriptions
      return if @subscriptions.empty?

      done = @held.index { |topic, body, count| !publish(topic, body, count) } || @held.size
      @held.shift(done).each do |_topic, body, count|
        @held_events -= count
        @held_bytes -= body.bytesize
      end
    end

    # Sends a batch, numbered from its topic's next index, or counts it as unwanted: true.
    # False when the queue is full: nothing is counted and its indexes stay unused.
    def publish(topic, body, count)
      unless wanted?(topic)
        @stats[:unwanted] += count
        return true
      end
      first = @next[topic]
      frames = [topic.b, Protocol.header(count: count, source: @source, first: first), body]
      return false unless send_frames(frames)

      @next[topic] = first + count
      sent_now(topic, Eventstorm.monotonic)
      @stats[:sent] += count
      @stats[:messages] += 1
      true
    end

    # Batches are made in the order they start, so the aged ones are at the front: the cost
    # is that of the batches sent, whatever the number of topics.
    def close_aged(now)
      while (oldest = @batches.first) && now - oldest[1].started >= @linger
        close_batch(oldest[0])
      end
    end

    # Announces up to ANNOUNCE_GROUP of the topics idle for ANNOUNCE_EVERY: those at the
    # front of @last_sent, so the cost is that of what is due. True when none is left due.
    def announce_idle(now)
      ANNOUNCE_GROUP.times do
        topic, at = @last_sent.first
        return true if topic.nil? || now - at < ANNOUNCE_EVERY

        # A topic with a batch waiting has its message coming; one nobody wants, nobody to
        # tell. Either is looked at again a second later.
        announce(topic, @next[topic]) unless @batches.key?(topic) || !wanted?(topic)
        sent_now(topic, now)
      end
      false
    end

    # Moves +topic+ to the back of @last_sent: the order is that of the times.
    def sent_now(topic, now)
      @last_sent.delete(topic)
      @last_sent[topic] = now
    end

    def announce(topic, index)
      frames = [topic.b, Protocol.header(count: 0, source: @source, first: index), "".b]
      sent = send_frames(frames)
      @stats[:announcements] += 1 if sent
      sent
    end

    # The closing announcements reveal the loss of each topic's last messages, so they wait
    # (until +deadline+) for room in a full queue rather than be dropped.
    def announce_all(deadline)
      topics = @mutex.synchronize { @next.keys }
      until topics.empty?
        @mutex.synchronize do
          poll_subscriptions
          topics.reject! { |topic| !wanted?(topic) || announce(topic, @next[topic]) }
        end
        break if topics.empty? || Eventstorm.monotonic >= deadline

        sleep TICK
      end
    end

    def send_frames(frames)
      Sockets.send_frames(@socket, frames)
    end

    # XPUB delivers "\x01prefix" for a new subscription and "\x00prefix" for its end.
    def poll_subscriptions
      while (frames = Sockets.receive_frames(@socket))
        frame = frames.first.b
        case frame.getbyte(0)
        when 1 then @subscriptions |= [frame.byteslice(1..)]
        when 0 then @subscriptions -= [frame.byteslice(1..)]
        end
      end
    end

    def wanted?(topic)
      binary = topic.b
      @subscriptions.any? { |prefix| binary.start_with?(prefix) }
    end
  end
end
