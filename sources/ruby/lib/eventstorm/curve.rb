# frozen_string_literal: true

require "ffi-rzmq"

module Eventstorm
  # CURVE client options (the project's CURVE profile): the server's public key and this
  # side's long-term key pair, as Z85 text, 32-byte strings or zcert files from
  # `eventstorm keygen`.
  module Curve
    Z85_LENGTH = 40
    private_constant :Z85_LENGTH

    # The +curve:+ Hash of an emitter or collector, kept to be applied again (an emitter
    # reopens its socket after fork) and never shown: an object's default #inspect, and so
    # #pretty_inspect and the message of a NoMethodError raised on it, would print the secret
    # key of a Hash kept in an instance variable. The keys live in a closure, and #inspect
    # names none of them.
    #
    # @api private
    # @example
    #   options = Eventstorm::Curve::Options.new(server_key: "router.pub",
    #                                            certificate: "web1_secret")
    #   options.apply(socket)
    class Options
      # @param options [Hash] the keyword arguments of {Curve.apply}
      # @raise [ArgumentError] when +options+ is not a Hash
      # @example
      #   Eventstorm::Curve::Options.new(server_key: key, certificate: "web1_secret")
      def initialize(options)
        raise ArgumentError, "curve: expected a Hash of keys, got #{options.class}" unless
          options.is_a?(Hash)

        options = options.transform_keys(&:to_sym).freeze
        # An Array holds one server key per endpoint, in order; one key serves them all.
        server_keys = options[:server_key].is_a?(Array) ? options[:server_key].dup.freeze : nil
        @server_keys = server_keys&.size
        @apply = lambda do |socket, index|
          key = server_keys ? server_keys[server_keys.size == 1 ? 0 : index] : options[:server_key]
          Curve.apply(socket, **options, server_key: key)
        end
      end

      # Checks that the server keys pair with +count+ endpoints: one key for all, or one each.
      #
      # @param count [Integer] the endpoints the socket connects to
      # @return [void]
      # @raise [Eventstorm::Error] naming the two numbers, never a key
      # @example
      #   options.pair_with(2)
      def pair_with(count)
        return if @server_keys.nil? || @server_keys == 1 || @server_keys == count

        raise Error, "curve: #{@server_keys} server keys for #{count} " \
                     "endpoint#{count == 1 ? '' : 's'}: give one for all, or one per endpoint " \
                     "in the order they are given"
      end

      # Sets the CURVE client options on +socket+ for its next connect (see {Curve.apply}):
      # libzmq reads them at each connect, so each endpoint may have its own server.
      #
      # @param socket [ZMQ::Socket]
      # @param index [Integer] the endpoint's place in the list, for a list of server keys
      # @return [void]
      # @example
      #   options.apply(socket)
      def apply(socket, index = 0)
        @apply.call(socket, index)
      end

      # @return [String] with no key in it
      # @example
      #   options.inspect #=> "#<Eventstorm::Curve::Options (keys not shown)>"
      def inspect
        "#<#{self.class.name} (keys not shown)>"
      end
      alias to_s inspect

      # @param printer [PP]
      # @return [void]
      # @example
      #   pp options
      def pretty_print(printer)
        printer.text(inspect)
      end
    end

    module_function

    # Sets the CURVE client options on +socket+.
    #
    # @param socket [ZMQ::Socket]
    # @param server_key [String] the server's public key (Z85, 32 bytes, or a certificate file);
    #   an emitter or collector also takes an Array of them, one per endpoint in order
    # @param secret_key [String, nil] this side's secret key (Z85 or 32 bytes)
    # @param public_key [String, nil] this side's public key (Z85 or 32 bytes)
    # @param certificate [String, nil] this side's secret certificate file (mode 0600) instead of
    #   the two keys
    # @return [void]
    # @raise [Eventstorm::Error] for a missing or malformed key, never showing a secret
    # @example
    #   Eventstorm::Curve.apply(socket, server_key: "router.pub", certificate: "web1_secret")
    def apply(socket, server_key:, secret_key: nil, public_key: nil, certificate: nil)
      if certificate
        pair = read_certificate(certificate, secret: true)
        public_key = pair.fetch("public-key")
        secret_key = pair.fetch("secret-key")
      end
      raise Error, "curve: secret_key and public_key (or certificate:) are required" unless
        secret_key && public_key

      server = key(server_key, "server_key", file_ok: true)
      set(socket, ZMQ::CURVE_SERVERKEY, server, "server_key")
      set(socket, ZMQ::CURVE_PUBLICKEY, key(public_key, "public_key"), "public_key")
      set(socket, ZMQ::CURVE_SECRETKEY, key(secret_key, "secret_key"), "secret_key")
    end

    # Reads a CZMQ zcert file.
    #
    # @param path [String]
    # @param secret [Boolean] refuse a file readable by group or others
    # @return [Hash{String=>String}] "public-key" and, in a secret file, "secret-key"
    # @raise [Eventstorm::Error] naming the file, never its content
    # @example
    #   Eventstorm::Curve.read_certificate("router.pub")["public-key"]
    def read_certificate(path, secret: false)
      stat = File.stat(path)
      if secret && (stat.mode & 0o077) != 0
        raise Error, "curve: #{path} is readable by group or others (chmod 600 it)"
      end

      File.read(path).scan(/^\s*(public-key|secret-key)\s*=\s*"(.{40})"/).to_h.tap do |keys|
        raise Error, "curve: #{path} holds no public-key" unless keys["public-key"]
        raise Error, "curve: #{path} holds no secret-key" if secret && !keys["secret-key"]
      end
    rescue SystemCallError => e
      raise Error, "curve: cannot read #{path}: #{e.class.name.split('::').last}"
    end

    def key(value, name, file_ok: false)
      value = value.to_s
      return value.b if value.bytesize == 32 && value.encoding == Encoding::BINARY
      return value if value.bytesize == Z85_LENGTH && !(file_ok && File.file?(value))
      return read_certificate(value).fetch("public-key") if file_ok && File.file?(value)

      raise Error, "curve: #{name} is neither a 40-character Z85 key nor 32 bytes"
    end
    private_class_method :key

    def set(socket, option, value, name)
      return if socket.setsockopt(option, value) >= 0

      raise Error, "curve: libzmq refused #{name} (#{ZMQ::Util.error_string})"
    end
    private_class_method :set
  end
end
