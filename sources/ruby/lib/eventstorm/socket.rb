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
    # @param curve [Curve::Options, nil] CURVE client keys
    # @param options [Hash{Integer=>Integer}] socket options set before connecting. ZMQ_IPV6
    #   is set for each endpoint as docs/protocol.md 1.2 says: on for an IPv6 literal
    #   (tcp://[::1]:PORT, which libzmq refuses without it), off otherwise, since with it on
    #   a host name with both addresses (localhost on most hosts) resolves to IPv6 only and
    #   misses a router bound on 127.0.0.1 or *
    # @return [ZMQ::Socket]
    # @raise [Eventstorm::Error] when an option, bind or connect fails (the socket is closed)
    # @example
    #   Eventstorm::Sockets.open(ZMQ::Context.new, ZMQ::SUB, ">tcp://127.0.0.1:5556")
    def open(context, type, endpoints, curve: nil, options: {})
      pairs = Endpoint.parse(endpoints)
      socket = context.socket(type) or raise Error, "zmq_socket failed: #{ZMQ::Util.error_string}"
      begin
        options.each { |option, value| check(set(socket, option, value), "setsockopt #{option}") }
        curve&.pair_with(pairs.size)
        pairs.each_with_index do |(mode, address), index|
          curve&.apply(socket, index)
          # libzmq reads it at each bind or connect.
          check(set(socket, ZMQ::IPV6, address.start_with?("tcp://[") ? 1 : 0), "setsockopt IPV6")
          check(socket.public_send(mode, address), "#{mode} #{address}")
        end
      rescue StandardError
        socket.setsockopt(ZMQ::LINGER, 0)
        socket.close
        raise
      end
      socket
    end

    # Queues a message's frames without waiting. A frame libzmq was interrupted before it
    # queued (EINTR) is queued again: given up half-way, as ffi-rzmq's send_strings does, the
    # frames already queued would begin the next message. Each frame goes straight to
    # zmq_send, which copies it, with Ruby's lock held (the call does not wait), so no
    # exception from another thread can come in the middle: about 1.5 µs a message of three
    # frames, where ffi-rzmq's send_string, making a zmq_msg_t of each, took 11.
    #
    # @param socket [ZMQ::Socket]
    # @param frames [Array<String>]
    # @return [Boolean] false when the queue is full (libzmq takes all of a message's frames
    #   or none) or the socket failed
    # @example
    #   Eventstorm::Sockets.send_frames(socket, ["app.x", header, body])
    def send_frames(socket, frames)
      pointer = socket.socket
      last = frames.size - 1
      frames.each_with_index do |frame, index|
        flags = index == last ? ZMQ::DONTWAIT : ZMQ::DONTWAIT | ZMQ::SNDMORE
        until Native.zmq_send(pointer, frame, frame.bytesize, flags) >= 0
          return false unless ZMQ::Util.errno == ZMQ::EINTR
        end
      end
      true
    end

    # Reads a message's frames without waiting, each again when libzmq was interrupted (see
    # {.send_frames}): given up half-way, as ffi-rzmq's recv_strings does, its last frames
    # would be read as the next message.
    #
    # @param socket [ZMQ::Socket]
    # @return [Array<String>, nil] nil when no message is there (or the socket failed)
    # @example
    #   Eventstorm::Sockets.receive_frames(socket) #=> ["app.x", header, body]
    def receive_frames(socket, frames = [])
      loop do
        frame = String.new
        until socket.recv_string(frame, ZMQ::DONTWAIT) >= 0
          return (frames.empty? ? nil : frames) unless ZMQ::Util.errno == ZMQ::EINTR
        end
        frames << frame
        return frames unless socket.more_parts?
      end
    end

    # Makes +owner+ (an emitter or collector) responsible for +socket+ and +context+ when it is
    # garbage collected unclosed, or is still open when the process exits. ffi-rzmq gives the
    # context and the socket a finalizer each, and Ruby runs finalizers in no set order: when
    # the context's came first, zmq_ctx_term waited for the socket still open, for ever, at
    # whatever allocation had started the GC. Those two are removed, and one finalizer on
    # +owner+ closes the socket, then terminates the context. It holds the two pointers, never
    # +owner+ (which it would keep alive), and does nothing in a forked child, where the
    # parent's context must not be touched.
    #
    # @param owner [Object]
    # @param context [ZMQ::Context]
    # @param socket [ZMQ::Socket]
    # @return [void]
    # @example
    #   Eventstorm::Sockets.guard(self, @context, @socket)
    def guard(owner, context, socket)
      ObjectSpace.undefine_finalizer(context)
      ObjectSpace.undefine_finalizer(socket)
      ObjectSpace.undefine_finalizer(owner)
      ObjectSpace.define_finalizer(owner, finalizer(socket.socket, context.pointer, Process.pid))
    end

    # Closes +socket+ (the lingering its LINGER option allows) and terminates +context+ now,
    # and forgets +owner+'s finalizer (see {.guard}). Either may be nil.
    #
    # @param owner [Object]
    # @param context [ZMQ::Context, nil]
    # @param socket [ZMQ::Socket, nil]
    # @return [void]
    # @example
    #   Eventstorm::Sockets.release(self, @context, @socket)
    def release(owner, context, socket)
      ObjectSpace.undefine_finalizer(owner)
      socket&.close
      context&.terminate
    end

    # The finalizer of {.guard}: made here, where no owner is in scope for it to capture.
    def finalizer(socket_pointer, context_pointer, pid)
      proc do
        if Process.pid == pid
          LibZMQ.zmq_close(socket_pointer)
          LibZMQ.zmq_ctx_term(context_pointer)
        end
      end
    end
    private_class_method :finalizer

    # {.receive_frames}, and who sent the message: the peer that owns a source (see
    # Streams#account). That is the ZAP User-Id (a CURVE client's key) when a ZAP handler
    # gave one, else the peer's address, as core's collector names it.
    #
    # @param socket [ZMQ::Socket]
    # @return [Array(Array<String>, String), nil] the frames and the peer (nil when libzmq
    #   knows none, as for inproc); nil when no message is there
    # @example
    #   frames, peer = Eventstorm::Sockets.receive_from(socket)
    def receive_from(socket)
      message = ZMQ::Message.new
      begin
        until socket.recvmsg(message, ZMQ::DONTWAIT) >= 0
          return nil unless ZMQ::Util.errno == ZMQ::EINTR
        end
        user = Native.zmq_msg_gets(message.address, "User-Id")
        peer = user ? "key:#{user}" : Native.zmq_msg_gets(message.address, "Peer-Address")
        frames = [message.copy_out_string]
      ensure
        message.close
      end
      [socket.more_parts? ? receive_frames(socket, frames) : frames, peer]
    end

    # What ffi-rzmq does not bind of libzmq.
    module Native
      extend FFI::Library
      ffi_lib LibZMQ.ffi_libraries.map(&:name)
      # A message's metadata property (libzmq 4.1+); NULL (nil) when it has none.
      attach_function :zmq_msg_gets, %i[pointer string], :string
      # Not a blocking call for FFI (ffi-rzmq's is): with ZMQ_DONTWAIT it returns at once,
      # and Ruby's lock, kept, keeps the String it reads where it is.
      attach_function :zmq_send, %i[pointer pointer size_t int], :int
    end
    private_constant :Native

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
