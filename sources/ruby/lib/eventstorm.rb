# frozen_string_literal: true

# Events over ZeroMQ as BSON, speaking eventstorm's wire protocol v1 (docs/protocol.md):
# {Eventstorm::Emitter} sends, {Eventstorm::Collector} receives with exact loss accounting,
# {Eventstorm::Rack} makes a Rack app a source of http.hit events.
#
# @example
#   require "eventstorm"
#   emitter = Eventstorm::Emitter.new(">tcp://127.0.0.1:5555")
#   emitter.emit("app.deploy", version: "1.2")
#   emitter.close
module Eventstorm
  # What libzmq or the system refused (an endpoint it cannot bind or connect, a CURVE key or
  # certificate), or a closed emitter. A malformed argument (an endpoint string, an option, an
  # event) raises ArgumentError.
  class Error < StandardError; end

  # Seconds on the monotonic clock, for deadlines and durations.
  #
  # @return [Float]
  # @example
  #   deadline = Eventstorm.monotonic + 5
  def self.monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end
end

require_relative "eventstorm/version"
require_relative "eventstorm/endpoint"
require_relative "eventstorm/protocol"
require_relative "eventstorm/streams"
require_relative "eventstorm/curve"
require_relative "eventstorm/socket"
require_relative "eventstorm/batch"
require_relative "eventstorm/forks"
require_relative "eventstorm/emitter"
require_relative "eventstorm/collector"
