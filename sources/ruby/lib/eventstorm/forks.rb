# frozen_string_literal: true

module Eventstorm
  # Counts the forks this process is a child of, so an emitter notices a fork without the
  # system call (getpid) it would take to compare process ids on every event.
  #
  # Ruby 3.1 and later call +Process._fork+ for +Kernel#fork+, +Process.fork+ and
  # +IO.popen("-")+; +Process.daemon+ forks without it, so it is counted too. On older
  # Rubies {.tracked?} is false and emitters compare process ids instead.
  #
  # @api private
  # @example
  #   before = Eventstorm::Forks.count
  #   fork { Eventstorm::Forks.count == before + 1 } # in the child
  module Forks
    @count = 0

    class << self
      # @return [Integer] forks counted in this process (0 in the first one)
      # @example
      #   Eventstorm::Forks.count #=> 0
      attr_reader :count

      # @return [Boolean] whether forks are counted here (Ruby 3.1+)
      # @example
      #   Eventstorm::Forks.tracked? #=> true
      def tracked?
        Process.respond_to?(:_fork)
      end

      # Called in a new child.
      #
      # @return [void]
      # @example
      #   Eventstorm::Forks.forked
      def forked
        @count += 1
      end
    end

    # Prepended to Process's singleton class.
    module Hook
      # @return [Integer] the child's pid in the parent, 0 in the child
      # @example
      #   Process._fork
      def _fork
        pid = super
        Forks.forked if pid.zero?
        pid
      end

      # @return [Integer] 0, in the daemon
      # @example
      #   Process.daemon
      def daemon(*)
        result = super
        Forks.forked
        result
      end
    end

    Process.singleton_class.prepend(Hook) if tracked?
  end
end
