# frozen_string_literal: true

module Eventstorm
  # The receiver's accounting of docs/protocol.md: the next expected index per
  # (source, topic), at most {LIMIT} streams, least recently seen forgotten first; with the
  # checks of docs/security-notes.md, as core/sequence.ts makes them, so that a hostile
  # peer can neither poison another's stream nor inflate the loss counters.
  #
  # - A position announcement of a stream never seen is ignored: nothing to account yet,
  #   and joining there would skip, as replays, events this receiver never had (a source
  #   replaying from its checkpoint). A stream is joined at its first message with events.
  # - A jump of the index beyond {MAX_INDEX_JUMP} plus {MAX_INDEX_RATE} a second since the
  #   stream's previous message is refused (+"index"+); the stream does not move.
  # - Given the peer a message came from (+owner:+), a source belongs to the first peer
  #   that used it, and the others' messages are refused (+"owner"+), until the owner has
  #   been silent for {OWNER_IDLE} seconds.
  #
  # @example
  #   streams = Eventstorm::Streams.new
  #   streams.account(source: 1, topic: "a.b", first: 0, count: 3) #=> [0, 0, nil]
  class Streams
    # Streams remembered at most.
    LIMIT = 65_536
    # Largest forward jump of an index accepted at once (MAX_INDEX_JUMP of core/sequence.ts).
    MAX_INDEX_JUMP = 2**24
    # Events a second a stream may lose at most while nothing of it arrives (MAX_INDEX_RATE).
    MAX_INDEX_RATE = 2**24
    # Seconds a silent owner keeps its source (OWNER_IDLE_MS).
    OWNER_IDLE = 600

    # One stream: the index expected next, and when its last message was accepted.
    Stream = Struct.new(:expected, :at)
    # A source's owner and when it last sent.
    Owner = Struct.new(:peer, :at)
    private_constant :Stream, :Owner

    # @param limit [Integer] streams remembered at most
    # @param clock [#call] seconds now (the monotonic clock; specs move it by hand)
    # @example
    #   streams = Eventstorm::Streams.new
    def initialize(limit: LIMIT, clock: Eventstorm.method(:monotonic))
      @limit = limit
      @clock = clock
      @streams = {} # [source, topic] => Stream, least recently seen first
      @owners = {} # source => Owner, least recently seen first
    end

    # Accounts one message with a header.
    #
    # @param source [Integer]
    # @param topic [String]
    # @param first [Integer]
    # @param count [Integer]
    # @param owner [String, nil] the peer it came from, when this receiver judges owners
    # @return [Array(Integer, Integer, String)] events lost before this message, how many of
    #   its first events are duplicates to skip, and nil, or the reason it is refused
    #   (+"index"+, +"owner"+: drop it whole as malformed, nothing was counted)
    # @example
    #   streams.account(source: 1, topic: "a.b", first: 0, count: 3) #=> [0, 0, nil]
    def account(source:, topic:, first:, count:, owner: nil)
      now = @clock.call
      return REFUSED_OWNER unless claim(source, owner, now)

      key = [source, topic]
      stream = @streams[key]
      if stream.nil?
        return NOTHING if count.zero?

        @streams.delete(@streams.each_key.first) while @streams.size >= @limit
        stream = Stream.new(first, now)
      end
      expected = stream.expected
      lost = duplicates = 0
      if first > expected
        lost = first - expected
        if lost > MAX_INDEX_JUMP && lost > MAX_INDEX_JUMP + (MAX_INDEX_RATE * (now - stream.at))
          return REFUSED_INDEX
        end
      elsif first < expected
        duplicates = [count, expected - first].min
      end
      stream.expected = [expected, first + count].max
      stream.at = now
      @streams.delete(key) # seen last: forgotten last
      @streams[key] = stream
      [lost, duplicates, nil]
    end

    # @return [Integer] streams currently remembered
    # @example
    #   streams.size #=> 1
    def size
      @streams.size
    end

    NOTHING = [0, 0, nil].freeze
    REFUSED_INDEX = [0, 0, "index"].freeze
    REFUSED_OWNER = [0, 0, "owner"].freeze
    private_constant :NOTHING, :REFUSED_INDEX, :REFUSED_OWNER

    private

    # Records +owner+ as the source's, or answers false when another peer owns it.
    def claim(source, owner, now)
      entry = @owners.delete(source)
      if entry.nil?
        @owners.delete(@owners.each_key.first) while @owners.size >= @limit
        entry = Owner.new(owner, now)
      elsif !owner.nil? && owner != entry.peer
        if !entry.peer.nil? && now - entry.at < OWNER_IDLE
          @owners[source] = entry
          return false
        end
        entry.peer = owner
      end
      entry.at = now
      @owners[source] = entry
      true
    end
  end
end
