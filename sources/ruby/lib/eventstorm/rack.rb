# frozen_string_literal: true

require_relative "../eventstorm"
require_relative "rack/hit_fields"

module Eventstorm
  # Rack middleware emitting one +http.hit+ per request, with the field names and BSON types
  # of the nginx source so the dashboard and sinks need no change: +method+, +path+, +query+
  # (when there is one), +protocol+, +request+, +status+ (int32), +body_bytes_sent+ and
  # +request_time+ (seconds; both as the nginx source writes numbers: int32 when whole and in
  # range, else double), +remote_addr+, +http_user_agent+, +http_referer+ and +http_host+
  # (when sent); the event's +host+ is the emitter's. +body_bytes_sent+ is 0 for HEAD and the
  # statuses that have no body (1xx, 204, 304), which no server sends, as nginx logs it.
  #
  # It never raises into the app: a failure to emit is counted in {#errors}, and a request the
  # emitter cannot write in its +unencodable+ stat. An app exception still produces its event
  # (status 500) and is re-raised unchanged to the server.
  #
  # The event is written once the response has gone out: in the hook the server offers
  # (+rack.response_finished+ of Rack 3.1, or Puma's +rack.after_reply+), else when the server
  # closes the body, as Rack::CommonLogger does. So the client waits for none of it, and
  # +request_time+, like nginx's, runs until the response is written. The event is one
  # +Array#pack+ of the env's values (see {HitFields}), which the emitter runs for several
  # requests at a time (see Emitter#emit_record). Text that is not valid UTF-8 is written
  # with U+FFFD in place of the bad bytes, as the nginx source decodes it.
  #
  # A body that is not an Array, or any body on a server without such a hook, is wrapped to
  # count its bytes as it is streamed; an Array body under a hook is counted at once and passed
  # through untouched, so the server keeps its fast path for arrays. A Rack 3 streaming body
  # (+call(stream)+, no +each+) stays a streaming body, its writes to the stream counted.
  #
  # @example config.ru
  #   require "eventstorm/rack"
  #   use Eventstorm::Rack, emitter: Eventstorm::Emitter.new(">tcp://router:5555", host: "web1")
  #   run MyApp
  class Rack
    # @return [Integer] events that could not be emitted (never raised into the app)
    attr_reader :errors

    # Callables a Rack 3.1 server calls once the response is sent; Puma's own, older name.
    RESPONSE_FINISHED = "rack.response_finished"
    AFTER_REPLY = "rack.after_reply"
    private_constant :RESPONSE_FINISHED, :AFTER_REPLY

    # @param app [#call] the Rack application
    # @param emitter [Eventstorm::Emitter] where events go; shared by all threads and,
    #   after fork, reopened by each worker
    # @param type [String] the topic
    # @example
    #   Eventstorm::Rack.new(app, emitter: emitter)
    def initialize(app, emitter:, type: "http.hit")
      @app = app
      @emitter = emitter
      @type = type
      @errors = 0
    end

    # @param env [Hash] the Rack environment
    # @return [Array(Integer, Hash, #each)] the app's response, its body wrapped to count bytes
    # @example
    #   middleware.call(env)
    def call(env)
      started = Eventstorm.monotonic
      # The clock's milliseconds, not a Time: reading them costs a fraction of making one.
      time = Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
      begin
        response = @app.call(env)
        status, headers, body = response
      rescue Exception # rubocop:disable Lint/RescueException -- re-raised unchanged below
        record(env, time, started, 500, 0)
        raise
      end
      if body.is_a?(Array) && (finished = env[RESPONSE_FINISHED] || env[AFTER_REPLY]).is_a?(Array)
        finished << Reply.of(self, env, time, started, status, body.sum(&:bytesize))
        return response # the app's own: nothing in it changed
      end
      return streaming(env, time, started, status, headers, body) unless body.respond_to?(:each)

      [status, headers, Body.new(body) { |bytes| record(env, time, started, status, bytes) }]
    end

    # A Rack 3 streaming body (one that answers +call(stream)+ and not +each+) stays one: a
    # wrapper answering +each+ would make the server enumerate it. Its bytes are counted as
    # it writes them, and the event written in the server's after-response hook, else when
    # the body's +call+ returns.
    def streaming(env, time, started, status, headers, body)
      finished = env[RESPONSE_FINISHED] || env[AFTER_REPLY]
      if finished.is_a?(Array)
        wrapped = StreamingBody.new(body)
        finished << proc { record(env, time, started, status, wrapped.bytes) }
      else
        wrapped = StreamingBody.new(body) { |bytes| record(env, time, started, status, bytes) }
      end
      [status, headers, wrapped]
    end
    private :streaming

    # Wraps a streaming body: counts the bytes it writes to the stream.
    class StreamingBody
      # @return [Integer] bytes written so far
      attr_reader :bytes

      # @param body [#call] the app's streaming body
      # @param on_return [Proc, nil] called with the byte count once +call+ returns
      # @example
      #   Eventstorm::Rack::StreamingBody.new(->(stream) { stream.write("hi") })
      def initialize(body, &on_return)
        @body = body
        @on_return = on_return
        @bytes = 0
      end

      # @param stream [#write] the server's stream
      # @return [Object] what the body's +call+ returns
      # @example
      #   body.call(stream)
      def call(stream)
        @body.call(Counting.new(stream, self))
      ensure
        @on_return&.call(@bytes)
        @on_return = nil
      end

      # @param count [Integer]
      # @return [void]
      # @api private
      def add(count)
        @bytes += count
      end

      # The stream as the body sees it: +write+ and +<<+ counted, the rest the server's.
      class Counting
        # @param stream [#write]
        # @param body [StreamingBody]
        def initialize(stream, body)
          @stream = stream
          @body = body
        end

        # @param data [Array<String>]
        # @return [Object] what the stream's +write+ returns
        def write(*data)
          written = @stream.write(*data)
          @body.add(data.sum { |chunk| chunk.to_s.bytesize })
          written
        end

        # @param data [String]
        # @return [self]
        def <<(data)
          write(data)
          self
        end

        # @return [Boolean]
        def respond_to_missing?(name, include_private = false)
          @stream.respond_to?(name, include_private)
        end

        # Delegates read, flush, close, close_write and the rest to the stream.
        def method_missing(name, *args, &block)
          return super unless @stream.respond_to?(name)

          @stream.public_send(name, *args, &block)
        end
      end
    end

    # Wraps a response body: counts its bytes and reports them once, on close.
    class Body
      # @param body [#each] the app's body
      # @param on_close [Proc] called with the byte count when the server closes the body
      # @example
      #   Eventstorm::Rack::Body.new(["hi"]) { |bytes| p bytes }
      def initialize(body, &on_close)
        @body = body
        @on_close = on_close
        @bytes = 0
      end

      # @yieldparam chunk [String]
      # @return [void]
      # @example
      #   body.each { |chunk| socket.write(chunk) }
      def each
        @body.each do |chunk|
          @bytes += chunk.bytesize
          yield chunk
        end
      end

      # Closes the app's body and emits the event, once.
      #
      # @return [void]
      # @example
      #   body.close
      def close
        @body.close if @body.respond_to?(:close)
      ensure
        @on_close&.call(@bytes)
        @on_close = nil
      end

      # @return [Boolean]
      # @example
      #   body.respond_to?(:to_ary) #=> false
      def respond_to_missing?(name, include_private = false)
        name != :to_ary && @body.respond_to?(name, include_private)
      end

      # Delegates what servers may ask of a body (to_path for sendfile), except to_ary,
      # which would bypass the count.
      def method_missing(name, *args, &block)
        return super if name == :to_ary || !@body.respond_to?(name)

        @body.public_send(name, *args, &block)
      end
    end

    # What {HitFields} reads of a request, and the callable the server's after-response hook
    # calls: one object, where a block kept for the hook made a Proc, its captured locals
    # and then the record (and each object a request leaves is a share of the minor GCs).
    # Its last element is the middleware; the seconds the request took are the monotonic
    # clock's start until called.
    #
    # @api private
    class Reply < Array
      STARTED = 11
      MIDDLEWARE = 14
      private_constant :STARTED, :MIDDLEWARE

      # @return [Reply]
      # @example
      #   Eventstorm::Rack::Reply.of(middleware, env, millis, Eventstorm.monotonic, 200, 2)
      def self.of(middleware, env, millis, started, status, bytes)
        self[env["REMOTE_ADDR"], env["REQUEST_METHOD"], env["SCRIPT_NAME"], env["PATH_INFO"],
             env["QUERY_STRING"], env["SERVER_PROTOCOL"], env["HTTP_VERSION"],
             env["HTTP_REFERER"], env["HTTP_USER_AGENT"], env["HTTP_HOST"],
             millis, started, status, bytes, middleware]
      end

      # Writes the event; the arguments rack.response_finished passes are not needed.
      #
      # @return [void]
      # @example
      #   reply.call
      def call(*)
        self[STARTED] = Eventstorm.monotonic - self[STARTED]
        self[MIDDLEWARE].__send__(:emit, self)
      end
    end

    private

    # Writes a {Reply}'s event (see Emitter#emit_record and HitFields).
    def emit(reply)
      @emitter.emit_record(@type, HitFields, reply)
    rescue StandardError
      @errors += 1
    end

    # Writes the event now (a body closed, a streaming body returned, an exception).
    def record(env, millis, started, status, bytes)
      Reply.of(self, env, millis, started, status, bytes).call
    end
  end
end
