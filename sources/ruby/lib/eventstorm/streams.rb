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
  # With +gap_hold:+ (docs/protocol.md 5.2, redundant paths: one source through several
  # routers), a forward jump is not lost at once: it opens a gap that a later message, the
  # other path's copy, may fill. Its events in the gap are then delivered, late and out of
  # index order (+keep+ of {#account}); a gap still open +gap_hold+ seconds after it opened
  # is lost, counted once in {#lost}. A stream keeps at most {MAX_GAPS} gaps, and a
  # forgotten stream's gaps are lost.
  #
  # @example
  #   streams = Eventstorm::Streams.new
  #   streams.account(source: 1, topic: "a.b", first: 0, count: 3) #=> [0, 0, nil]
  # @example Redundant paths
  #   streams = Eventstorm::Streams.new(gap_hold: Eventstorm::Streams::GAP_HOLD)
  #   streams.account(source: 1, topic: "a.b", first: 0, count: 2)  #=> [0, 0, nil]
  #   streams.account(source: 1, topic: "a.b", first: 5, count: 2)  #=> [0, 0, nil]
  #   # Events 2 to 4 fill the gap, 1, 5 and 6 are duplicates:
  #   streams.account(source: 1, topic: "a.b", first: 1, count: 6)  #=> [0, 3, nil, [1...4]]
  class Streams
    # Streams remembered at most.
    LIMIT = 65_536
    # Largest forward jump of an index accepted at once (MAX_INDEX_JUMP of core/sequence.ts).
    MAX_INDEX_JUMP = 2**24
    # Events a second a stream may lose at most while nothing of it arrives (MAX_INDEX_RATE).
    MAX_INDEX_RATE = 2**24
    # Seconds a silent owner keeps its source (OWNER_IDLE_MS).
    OWNER_IDLE = 600
    # Seconds a gap waits for another path to fill it (GAP_HOLD_MS of core/sequence.ts).
    GAP_HOLD = 10.0
    # Gaps a stream keeps open at most (MAX_GAPS), so that memory stays bounded whatever
    # the peers send.
    MAX_GAPS = 256

    # One stream: the index expected next, when its last message was accepted, and its open
    # gaps (nil when none, the common case), oldest first, which is also index order.
    Stream = Struct.new(:expected, :at, :gaps)
    # Indexes [from, to) missing below a stream's expected index since +at+.
    Gap = Struct.new(:from, :to, :at)
    # A source's owner and when it last sent.
    Owner = Struct.new(:peer, :at)
    private_constant :Stream, :Gap, :Owner

    # @param limit [Integer] streams remembered at most
    # @param clock [#call] seconds now (the monotonic clock; specs move it by hand)
    # @param gap_hold [Float] seconds a gap waits to be filled by a later message before it
    #   is lost ({GAP_HOLD} when the same streams come by several paths); 0, the default,
    #   counts a gap lost at once and skips anything below the expected index as a replay
    # @raise [ArgumentError] for a +gap_hold+ that is not a number of 0 or more
    # @example
    #   streams = Eventstorm::Streams.new
    def initialize(limit: LIMIT, clock: Eventstorm.method(:monotonic), gap_hold: 0)
      unless gap_hold.is_a?(Numeric) && gap_hold >= 0
        raise ArgumentError,
              "gap_hold: expected a number of 0 or more, not #{gap_hold.inspect[0, 40]}"
      end

      @limit = limit
      @clock = clock
      @gap_hold = gap_hold
      @streams = {} # [source, topic] => Stream, least recently seen first
      @owners = {} # source => Owner, least recently seen first
      # Streams with open gaps, so that reading {#lost} expires them without a walk over all.
      @gapped = {}.compare_by_identity
      @lost = 0
    end

    # Accounts one message with a header.
    #
    # @param source [Integer]
    # @param topic [String]
    # @param first [Integer]
    # @param count [Integer]
    # @param owner [String, nil] the peer it came from, when this receiver judges owners
    # @return [Array(Integer, Integer, String, Array<Range>)] events lost before this
    #   message (always 0 with +gap_hold+: gaps are counted in {#lost} when they expire), how
    #   many of its events are duplicates, nil or the reason it is refused (+"index"+,
    #   +"owner"+: drop it whole as malformed, nothing was counted), and, only when the
    #   events to deliver are not simply those after the duplicates (a message filling gaps
    #   another path left), the offsets within the message to deliver, ascending. Without a
    #   fourth element the duplicates are its first events.
    # @example
    #   streams.account(source: 1, topic: "a.b", first: 0, count: 3) #=> [0, 0, nil]
    def account(source:, topic:, first:, count:, owner: nil)
      now = @clock.call
      return REFUSED_OWNER unless claim(source, owner, now)

      key = [source, topic]
      stream = @streams[key]
      if stream.nil?
        return NOTHING if count.zero?

        forget_oldest while @streams.size >= @limit
        stream = Stream.new(first, now, nil)
      end
      # Gaps past the hold are lost before this message is looked at: a copy later than the
      # hold is a duplicate whether or not anyone read {#lost} in between.
      expire(stream, now) if stream.gaps
      expected = stream.expected
      verdict = NOTHING
      if first > expected
        lost = first - expected
        if lost > MAX_INDEX_JUMP && lost > MAX_INDEX_JUMP + (MAX_INDEX_RATE * (now - stream.at))
          return REFUSED_INDEX
        end

        if @gap_hold.positive?
          open_gap(stream, expected, first, now)
        else
          @lost += lost
          verdict = [lost, 0, nil]
        end
      elsif first < expected
        verdict = stream.gaps ? fill(stream, first, count) : [0, [count, expected - first].min, nil]
      end
      stream.expected = first + count if first + count > expected
      stream.at = now
      @streams.delete(key) # seen last: forgotten last
      @streams[key] = stream
      verdict
    end

    # Events lost over all streams: jumps, and with +gap_hold+ the gaps that expired (reading
    # it counts those whose time is up, though no message came since), overflowed
    # {MAX_GAPS} or whose stream was forgotten.
    #
    # @return [Integer]
    # @example
    #   streams.lost #=> 0
    def lost
      now = @clock.call
      @gapped.each_key.to_a.each { |stream| expire(stream, now) } unless @gapped.empty?
      @lost
    end

    # Counts every open gap lost now, whatever its age: for a receiver that stops, since
    # nothing can fill them any more (docs/protocol.md 5.2).
    #
    # @return [void]
    # @example
    #   streams.close_gaps
    def close_gaps
      @gapped.each_key.to_a.each do |stream|
        count_lost(stream.gaps)
        close_gaps_of(stream)
      end
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

    def forget_oldest
      stream = @streams.delete(@streams.each_key.first)
      return unless stream.gaps

      # Forgotten, its gaps can no longer be filled: lost now, once.
      count_lost(stream.gaps)
      close_gaps_of(stream)
    end

    def open_gap(stream, from, to, now)
      gaps = (stream.gaps ||= [])
      gaps << Gap.new(from, to, now)
      @gapped[stream] = true
      count_lost([gaps.shift]) if gaps.size > MAX_GAPS
    end

    # A message starting below the expected index of a stream with open gaps: its events in a
    # gap or from the expected index on are delivered and close that part of the gap, the
    # others are duplicates.
    def fill(stream, first, count)
      last = first + count
      keep = []
      left = []
      stream.gaps.each do |gap|
        from = [gap.from, first].max
        to = [gap.to, last].min
        if from >= to
          left << gap
          next
        end
        add_range(keep, from - first, to - first)
        left << Gap.new(gap.from, from, gap.at) if gap.from < from
        left << Gap.new(to, gap.to, gap.at) if to < gap.to
      end
      add_range(keep, stream.expected - first, count) if last > stream.expected
      # A message inside a gap splits it in two: one event at a time, a peer would otherwise
      # grow the list without end. Past the bound the oldest is lost, as when one opens.
      count_lost(left.shift(left.size - MAX_GAPS)) if left.size > MAX_GAPS
      if left.empty?
        close_gaps_of(stream)
      else
        stream.gaps = left
      end
      kept = keep.sum(&:size)
      return [0, count, nil] if kept.zero?
      return [0, count - kept, nil] if keep.size == 1 && keep[0].end == count

      [0, count - kept, nil, keep]
    end

    # Adjacent pieces (a filled gap just below the expected index) are delivered as one.
    def add_range(ranges, from, to)
      if !ranges.empty? && ranges[-1].end == from
        ranges[-1] = ranges[-1].begin...to
      else
        ranges << (from...to)
      end
    end

    def expire(stream, now)
      gaps = stream.gaps
      due = gaps.index { |gap| now - gap.at < @gap_hold } || gaps.size
      return if due.zero?

      count_lost(gaps.shift(due))
      close_gaps_of(stream) if gaps.empty?
    end

    def close_gaps_of(stream)
      stream.gaps = nil
      @gapped.delete(stream)
    end

    def count_lost(gaps)
      gaps.each { |gap| @lost += gap.to - gap.from }
    end

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
