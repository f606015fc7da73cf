# frozen_string_literal: true

module Eventstorm
  class Rack
    # Writes one +http.hit+ as a single +Array#pack+: {.pack_record} turns what the
    # middleware kept of a request into the template, the values and the fields' size, and
    # {Batch#add_packed} packs the whole event, envelope included, onto the batch's body.
    # The values go into an Array the batch keeps for all its records: a request leaves no
    # object of its own behind once packed.
    #
    # Under Puma a Hash built per request and handed to bson-ruby cost the app 14-25 µs of
    # CPU a request. One pack, with a template chosen from the fields present, costs about
    # half that and writes the same bytes (the specs compare them), with one difference: text
    # that is not valid UTF-8 is kept with U+FFFD in place of the bad bytes, as the nginx
    # source decodes it, where bson-ruby would refuse the whole event.
    #
    # @api private
    # @example
    #   batch.add_packed(*Eventstorm::Rack::HitFields.pack_record(record))
    module HitFields
      # Optional request headers' fields, in the order the nginx source writes them.
      HEADERS = %w[http_referer http_user_agent http_host].freeze

      def self.key(type, name)
        "#{type}#{name}\x00".b.freeze
      end
      private_class_method :key

      REMOTE_ADDR, REQUEST, METHOD, PATH, QUERY_KEY, PROTOCOL =
        %w[remote_addr request method path query protocol].map { |name| key("\x02", name) }
      # Each number's key as an int32 and as a double.
      STATUS, BODY_BYTES_SENT, REQUEST_TIME = %w[status body_bytes_sent request_time].map do |name|
        [key("\x10", name), key("\x01", name)].freeze
      end
      HEADER_KEYS = HEADERS.map { |name| key("\x02", name) }.freeze
      private_constant :REMOTE_ADDR, :REQUEST, :METHOD, :PATH, :QUERY_KEY, :PROTOCOL, :STATUS,
                       :BODY_BYTES_SENT, :REQUEST_TIME, :HEADER_KEYS

      # Bits of a template's index: which optional fields are present and which numbers are
      # doubles rather than int32.
      QUERY = 1
      DOUBLES = [2, 4, 8].freeze # status, body_bytes_sent, request_time
      HEADER_BITS = [16, 32, 64].freeze
      private_constant :QUERY, :DOUBLES, :HEADER_BITS

      # A string element: key, length, text and its NUL (Z* adds it: one directive less).
      STRING = "a*VZ*"
      private_constant :STRING

      TEMPLATES = Array.new(128) do |bits|
        template = +Batch::PACKED_ENVELOPE
        template << STRING # remote_addr
        template << "a*Va*aa*#{bits & QUERY == 0 ? '' : 'aa*'}aZ*" # request: "METHOD TARGET PROTOCOL"
        template << (STRING * (bits & QUERY == 0 ? 3 : 4)) # method, path, [query,] protocol
        DOUBLES.each { |bit| template << (bits & bit == 0 ? "a*l<" : "a*E") }
        HEADER_BITS.each { |bit| template << STRING unless bits & bit == 0 }
        (template << "x").freeze # the document's closing NUL
      end.freeze

      # The bytes of each template's fields that do not depend on the text: keys, lengths,
      # NULs, numbers, and the request's spaces and "?".
      FIXED_SIZES = Array.new(128) do |bits|
        strings = [REMOTE_ADDR, METHOD, PATH, PROTOCOL]
        strings << QUERY_KEY unless bits & QUERY == 0
        HEADER_KEYS.zip(HEADER_BITS) { |header, bit| strings << header unless bits & bit == 0 }
        numbers = [STATUS, BODY_BYTES_SENT, REQUEST_TIME].zip(DOUBLES).sum do |keys, bit|
          bits & bit == 0 ? keys[0].bytesize + 4 : keys[1].bytesize + 8
        end
        strings.sum { |name| name.bytesize + 5 } + numbers +
          REQUEST.bytesize + 7 + (bits & QUERY == 0 ? 0 : 1) + 1
      end.freeze
      private_constant :TEMPLATES, :FIXED_SIZES

      INT32_MIN = -2**31
      INT32_MAX = (2**31) - 1
      private_constant :INT32_MIN, :INT32_MAX

      # The Rack env's values a record starts with.
      ENV_KEYS = %w[REMOTE_ADDR REQUEST_METHOD SCRIPT_NAME PATH_INFO QUERY_STRING SERVER_PROTOCOL
                    HTTP_VERSION HTTP_REFERER HTTP_USER_AGENT HTTP_HOST].freeze

      # What {Eventstorm::Rack} keeps of a request: the env's values of {ENV_KEYS} (each a
      # String or nil), then the time (milliseconds since the epoch), the seconds the request
      # took, the status and the body's bytes (and anything after them, which is not read).
      #
      # @param record [Array]
      # @param values [Array] empty; filled as {Batch#pack_records} reads it: the fields'
      #   size, the template, the time, a free slot, then the template's values after the
      #   envelope
      # @return [void]
      # @example
      #   values = []
      #   Eventstorm::Rack::HitFields.pack_record(
      #     ["10.0.0.1", "GET", "", "/", "", "HTTP/1.1", nil, nil, "curl/8", nil,
      #      1_700_000_000_000, 0.0012, 200, 2], values
      #   )
      #   values.first #=> 189
      def self.pack_record(record, values)
        remote_addr, method, script, path, query, protocol, version, http_referer,
          http_user_agent, http_host, millis, elapsed, status, bytes = record
        protocol ||= version
        # Written out rather than looped, and the common ASCII String checked here before
        # text is called: the method calls and blocks would cost as much as the pack.
        remote_addr = text(remote_addr) unless String === remote_addr && remote_addr.ascii_only?
        method = text(method) unless String === method && method.ascii_only?
        script = text(script) unless String === script && script.ascii_only?
        path = text(path) unless String === path && path.ascii_only?
        path = "#{script}#{path}" unless script.empty?
        path = "/" if path.empty?
        protocol = text(protocol) unless String === protocol && protocol.ascii_only?
        query = text(query) unless query.nil? || (String === query && query.ascii_only?)
        texts = method.bytesize + path.bytesize + protocol.bytesize
        request_size = texts + 3
        texts = remote_addr.bytesize + (2 * texts)
        if query.nil? || query.empty?
          bits = 0
          values.push(nil, nil, millis, nil, REMOTE_ADDR, remote_addr.bytesize + 1, remote_addr,
                      REQUEST, request_size, method, " ", path, " ", protocol,
                      METHOD, method.bytesize + 1, method, PATH, path.bytesize + 1, path,
                      PROTOCOL, protocol.bytesize + 1, protocol)
        else
          bits = QUERY
          texts += 2 * query.bytesize
          values.push(nil, nil, millis, nil, REMOTE_ADDR, remote_addr.bytesize + 1, remote_addr,
                      REQUEST, request_size + query.bytesize + 1, method, " ", path, "?", query,
                      " ", protocol, METHOD, method.bytesize + 1, method, PATH,
                      path.bytesize + 1, path, QUERY_KEY, query.bytesize + 1, query, PROTOCOL,
                      protocol.bytesize + 1, protocol)
        end
        # The common numbers (an int32 status and size, seconds with a fraction) pushed here.
        status = status.to_i
        # No body goes out for HEAD or a status that has none (1xx, 204, 304), whatever the app
        # returned: 0 bytes, as nginx logs them.
        bytes = 0 if status < 200 || status == 204 || status == 304 || method == "HEAD"
        if Integer === status && status >= INT32_MIN && status <= INT32_MAX
          values << STATUS[0] << status
        else
          bits |= number(values, STATUS, status, DOUBLES[0])
        end
        if Integer === bytes && bytes >= INT32_MIN && bytes <= INT32_MAX
          values << BODY_BYTES_SENT[0] << bytes
        else
          bits |= number(values, BODY_BYTES_SENT, bytes, DOUBLES[1])
        end
        elapsed = elapsed.round(3)
        if Float === elapsed && elapsed.finite? && elapsed.to_i != elapsed
          values << REQUEST_TIME[1] << elapsed
          bits |= DOUBLES[2]
        else
          bits |= number(values, REQUEST_TIME, elapsed, DOUBLES[2])
        end
        if (size = header(values, HEADER_KEYS[0], http_referer))
          texts += size
          bits |= HEADER_BITS[0]
        end
        if (size = header(values, HEADER_KEYS[1], http_user_agent))
          texts += size
          bits |= HEADER_BITS[1]
        end
        if (size = header(values, HEADER_KEYS[2], http_host))
          texts += size
          bits |= HEADER_BITS[2]
        end
        values[0] = FIXED_SIZES[bits] + texts
        values[1] = TEMPLATES[bits]
        nil
      end

      # Pushes a number as the nginx source writes it (JavaScript's numbers through its BSON
      # encoder): int32 when whole and in range, else a double. Returns the template bit.
      def self.number(values, keys, value, double_bit)
        whole = value.is_a?(Integer) || value.to_f.finite? ? value.to_i : nil
        if whole && value == whole && whole >= INT32_MIN && whole <= INT32_MAX
          values << keys[0] << whole
          0
        else
          values << keys[1] << value.to_f
          double_bit
        end
      end
      private_class_method :number

      # Pushes a header's element unless it is nil or empty; returns its text's size.
      def self.header(values, key, value)
        return if value.nil?

        value = text(value) unless String === value && value.ascii_only?
        return if value.empty?

        values << key << (value.bytesize + 1) << value
        value.bytesize
      end
      private_class_method :header

      # A value as valid UTF-8 (nil as ""): the common ASCII String as it is.
      def self.text(value)
        return value if String === value && value.ascii_only?

        text = value.to_s
        case text.encoding
        when Encoding::UTF_8 then text.valid_encoding? ? text : text.scrub
        when Encoding::BINARY then text.dup.force_encoding(Encoding::UTF_8).scrub
        else
          begin
            text.encode(Encoding::UTF_8, invalid: :replace, undef: :replace)
          rescue EncodingError # an encoding Ruby cannot convert (UTF-7): its bytes, as UTF-8
            text.b.force_encoding(Encoding::UTF_8).scrub
          end
        end
      end
      private_class_method :text
    end
  end
end
