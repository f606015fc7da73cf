# frozen_string_literal: true

module Eventstorm
  # The receiver's accounting of docs/protocol.md: the next expected index per
  # (source, topic), at most {LIMIT} streams, least recently seen forgotten first.
  class Streams
    # Streams remembered at most.
    LIMIT = 65_536

    # @param limit [Integer] streams remembered at most
    # @example
    #   streams = Eventstorm::Streams.new
    def initialize(limit: LIMIT)
      @limit = limit
      @expected = {}
    end

    # Accounts one message with a header.
    #
    # @param source [Integer]
    # @param topic [String]
    # @param first [Integer]
    # @param count [Integer]
    # @return [Array(Integer, Integer)] events lost before this message, and how many of its
    #   first events are duplicates to skip
    # @example
    #   streams.account(source: 1, topic: "a.b", first: 0, count: 3) #=> [0, 0]
    def account(source:, topic:, first:, count:)
      key = [source, topic]
      expected = @expected.delete(key)
      expected ||= first
      lost = first > expected ? first - expected : 0
      duplicates = first < expected ? [count, expected - first].min : 0
      @expected[key] = [expected, first + count].max
      @expected.delete(@expected.each_key.first) while @expected.size > @limit
      [lost, duplicates]
    end

    # @return [Integer] streams currently remembered
    # @example
    #   streams.size #=> 1
    def size
      @expected.size
    end
  end
end
