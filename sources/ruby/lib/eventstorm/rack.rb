# frozen_string_literal: true

require_relative "../eventstorm"

module Eventstorm
  # Rack middleware emitting one +http.hit+ per request, with the field names and BSON types
  # of the nginx source so the dashboard and sinks need no change: +method+, +path+, +query+
  # (when there is one), +protocol+, +request+, +status+ (int32), +body_bytes_sent+ and
  # +request_time+ (seconds; both as the nginx source writes numbers: int32 when whole and in
  # range, else double), +remote_addr+, +http_user_agent+, +http_referer+ and +http_host+
  # (when sent); the event's +host+ is the emitter's.
  #
  # It never raises into the app: a failure to emit is counted in {#errors}. An app exception
  # still produces its event (status 500) and is re-raised unchanged to the server.
  #
  # An Array body is counted at once and passed through untouched; any other body is counted
  # as it is streamed and the event is emitted when the server closes it (Rack's contract), so
  # +request_time+ covers streaming too.
  #
  # @example config.ru
  #   require "eventstorm/rack"
  #   use Eventstorm::Rack, emitter: Eventstorm::Emitter.new(">tcp://router:5555", host: "web1")
  #   run MyApp
  class Rack
    # @return [Integer] events that could not be emitted (never raised into the app)
    attr_reader :errors

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
      time = Time.now
      begin
        status, headers, body = @app.call(env)
      rescue Exception # rubocop:disable Lint/RescueException -- re-raised unchanged below
        record(env, time, started, 500, 0)
        raise
      end
      if body.is_a?(Array)
        # Already complete: counted now, and returned as it is so the server keeps its fast
        # path for arrays.
        record(env, time, started, status, body.sum(&:bytesize))
        return [status, headers, body]
      end
      [status, headers, Body.new(body) { |bytes| record(env, time, started, status, bytes) }]
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

    private

    def record(env, time, started, status, bytes)
      elapsed = Eventstorm.monotonic - started
      @emitter.emit_hash(@type, fields(env, status.to_i, bytes, elapsed), time: time)
    rescue StandardError
      @errors += 1
    end

    # Optional request headers, as nginx names them; absent or empty ones are left out.
    HEADERS = { "http_referer" => "HTTP_REFERER", "http_user_agent" => "HTTP_USER_AGENT",
                "http_host" => "HTTP_HOST" }.freeze
    private_constant :HEADERS

    def fields(env, status, bytes, elapsed)
      method = env["REQUEST_METHOD"] || ""
      script = env["SCRIPT_NAME"]
      path = script.nil? || script.empty? ? env["PATH_INFO"] || "" : "#{script}#{env['PATH_INFO']}"
      path = "/" if path.empty?
      query = env["QUERY_STRING"]
      query = nil if query&.empty?
      protocol = env["SERVER_PROTOCOL"] || env["HTTP_VERSION"] || ""
      target = query ? "#{path}?#{query}" : path
      # String keys: Symbols would each need a String made for them on the way to BSON.
      fields = { "remote_addr" => env["REMOTE_ADDR"] || "",
                 "request" => "#{method} #{target} #{protocol}", "method" => method, "path" => path }
      fields["query"] = query if query
      fields["protocol"] = protocol
      fields["status"] = status
      fields["body_bytes_sent"] = nginx_number(bytes)
      fields["request_time"] = nginx_number(elapsed.round(3))
      HEADERS.each do |name, key|
        value = env[key]
        fields[name] = value if value && !value.empty?
      end
      fields
    end

    # The nginx source's numbers (JavaScript's, written by its BSON encoder): int32 when whole
    # and in range, else a double, so the same request gives the same BSON types from both.
    def nginx_number(value)
      whole = value.to_i
      value == whole && whole.between?(-2**31, 2**31 - 1) ? whole : value.to_f
    end
  end
end
