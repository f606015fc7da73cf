# frozen_string_literal: true

require_relative "spec_helper"
require "open3"
require "pp"

# What happens to emitters and collectors left unclosed, half made, or shown.
RSpec.describe "emitter and collector lifecycle" do
  # Runs +script+ in a Ruby of its own with the gem loaded; [output, status], or nil when it
  # did not finish within +timeout+ seconds (killed).
  def ruby(script, timeout: 20)
    lib = File.expand_path("../lib", __dir__)
    code = "$stdout.sync = true; $LOAD_PATH.unshift(#{lib.inspect}); require 'eventstorm'\n#{script}"
    Open3.popen2e(RbConfig.ruby, "-e", code, pgroup: true) do |stdin, out, wait|
      stdin.close
      unless wait.join(timeout)
        Process.kill("KILL", -wait.pid)
        return nil
      end
      [out.read, wait.value]
    end
  end

  it "GC of an unclosed or half-made collector and of an emitter open at exit never hangs" do
    # ffi-rzmq's context finalizer, run before its socket's, waited for the socket for ever.
    output, status = ruby(<<~RUBY)
      def dropped = Eventstorm::Collector.new(">tcp://127.0.0.1:1").stats
      5.times { dropped }
      # A constructor failing once its socket is open (here: made to fail) closes the socket.
      ZMQ::Poller.prepend(Module.new { def register_readable(*) = raise("made to fail") })
      5.times { Eventstorm::Collector.new(">tcp://127.0.0.1:1") rescue nil }
      3.times { GC.start; sleep 0.05 }
      # An emitter still open when the process exits: its finalizer runs then.
      $emitter = Eventstorm::Emitter.new(">tcp://127.0.0.1:1")
      puts "done"
    RUBY
    expect(status).not_to be_nil, "the process hung"
    expect(output).to eq("done\n")
    expect(status).to be_success
  end

  it "never shows the CURVE secret key, and shows an emitter or collector without raising" do
    public_key, secret_key = ZMQ::Util.curve_keypair
    server_key, = ZMQ::Util.curve_keypair
    curve = { server_key: server_key, public_key: public_key, secret_key: secret_key }
    port = free_port
    emitter = Eventstorm::Emitter.new(">tcp://127.0.0.1:#{port}", host: "web1", curve: curve)
    collector = Eventstorm::Collector.new(">tcp://127.0.0.1:#{port}", curve: curve)
    [emitter, collector].each do |it|
      shown = [it.inspect, it.pretty_inspect, it.to_s]
      begin
        it.emti("x")
      rescue NoMethodError => e
        shown << e.message << e.full_message
      end
      kept = it.instance_variables.map { |name| it.instance_variable_get(name) }
      expect(kept.grep(Hash).flat_map(&:values)).not_to include(secret_key)
      expect(shown.grep(/#{Regexp.escape(secret_key)}/)).to be_empty
      expect(it.inspect).to include(">tcp://127.0.0.1:#{port}")
    end
    expect(emitter.inspect).to eq(%(#<Eventstorm::Emitter ">tcp://127.0.0.1:#{port}" host="web1">))
  ensure
    emitter&.close(timeout: 0)
    collector&.close
  end
end
