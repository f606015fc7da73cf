# frozen_string_literal: true

module Eventstorm
  # Endpoint strings in the CZMQ convention of docs/protocol.md: "@tcp://*:5555" binds,
  # ">tcp://host:5555" connects, a bare address connects; several are separated by commas.
  module Endpoint
    module_function

    # Splits an endpoint string into what to bind and what to connect.
    #
    # @param spec [String, Array<String>] e.g. ">tcp://127.0.0.1:5555,@ipc:///tmp/x"
    # @return [Array<Array(Symbol, String)>] pairs of :bind or :connect and the address
    # @raise [ArgumentError] for an empty list, an empty entry (",," or a trailing comma, refused
    #   as eventstorm's other languages refuse it) or an unknown transport
    # @example
    #   Eventstorm::Endpoint.parse("@tcp://*:5555") #=> [[:bind, "tcp://*:5555"]]
    def parse(spec)
      # split's -1 keeps trailing empty entries, which it would otherwise drop unseen.
      lists = Array(spec).map { |text| [text.to_s, text.to_s.split(",", -1).map(&:strip)] }
      raise ArgumentError, "no endpoint given" if lists.all? { |_, entries| entries.all?(&:empty?) }

      lists.each do |text, entries|
        entry = entries.index(&:empty?)
        raise ArgumentError, "invalid endpoint #{text.inspect}: empty (entry #{entry + 1})" if entry
      end
      lists.flat_map(&:last).map do |part|
        mode, address = case part[0]
                        when "@" then [:bind, part[1..]]
                        when ">" then [:connect, part[1..]]
                        else [:connect, part]
                        end
        unless address.match?(%r{\A(tcp|ipc|inproc)://.+})
          raise ArgumentError, "bad endpoint #{part.inspect}: expected tcp://, ipc:// or inproc://"
        end

        [mode, address]
      end
    end
  end
end
