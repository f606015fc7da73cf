# frozen_string_literal: true

require "ffi-rzmq"

module Eventstorm
  # Opens ffi-rzmq sockets the same way for the emitter and the collector: options, CURVE,
  # then every bind and connect of an endpoint string.
  module Sockets
    # ZMQ_XPUB_NODROP of zmq.h (libzmq 4.1+): a full queue fails the send instead of
    # dropping the message silently, so the emitter can count it.
    XPUB_NODROP = 69

    module_function

    # @param context [ZMQ::Context]
    # @param type [Integer] ZMQ::XPUB, ZMQ::SUB, ...
    # @param endpoints [String, Array<String>] see {Endpoint.parse}
    # @param curve [Hash, nil] keyword arguments of {Curve.apply}
    # @param options [Hash{Integer=>Integer}] socket options set before connecting
    # @return [ZMQ::Socket]
    # @raise [Eventstorm::Error] when an option, bind or connect fails (the socket is closed)
    # @example
    #   Eventstorm::Sockets.open(ZMQ::Context.new, ZMQ::SUB, ">tcp://127.0.0.1:5556")
    def open(context, type, endpoints, curve: nil, options: {})
      pairs = Endpoint.parse(endpoints)
      socket = context.socket(type) or raise Error, "zmq_socket failed: #{ZMQ::Util.error_string}"
      begin
        options.each { |option, value| check(set(socket, option, value), "setsockopt #{option}") }
        Curve.apply(socket, **curve) if curve
        pairs.each do |mode, address|
          check(socket.public_send(mode, address), "#{mode} #{address}")
        end
      rescue StandardError
        socket.setsockopt(ZMQ::LINGER, 0)
        socket.close
        raise
      end
      socket
    end

    # ffi-rzmq only knows the options of its own time; newer int options go to libzmq directly.
    def set(socket, option, value)
      return socket.setsockopt(option, value) if option != XPUB_NODROP

      pointer = FFI::MemoryPointer.new(:int)
      pointer.write_int(value)
      LibZMQ.zmq_setsockopt(socket.socket, option, pointer, pointer.size)
    end
    private_class_method :set

    def check(rc, what)
      raise Error, "#{what}: #{ZMQ::Util.error_string}" if rc.negative?
    end
    private_class_method :check
  end
end
