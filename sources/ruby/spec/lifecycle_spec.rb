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
      $emitter = Eventstorm::Emitter.new(">tcp://127.0.0.1:1", close_at_exit: false)
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

  # What a Ruby of its own, given the endpoint as TO, emits to a collector here: the events
  # (+count+ of them, waited for, and any more coming shortly after), the collector's stats,
  # the output and the exit status.
  def events_from(script, count)
    endpoint = "tcp://127.0.0.1:#{free_port}"
    collector = Eventstorm::Collector.new("@#{endpoint}")
    received = collect(collector, timeout: 60)
    output, status = ruby("TO = #{">#{endpoint}".inspect}\n#{script}")
    wait_until(timeout: 20) { collector.stats[:events] >= count }
    sleep 0.3 # and what would come after
    received[:stop] = true
    [received.value, collector.stats, output, status]
  ensure
    collector&.close
  end

  it "closes an emitter left open when the process exits, unless told not to" do
    events, stats, output, status = events_from(<<~RUBY, 3)
      emitter = Eventstorm::Emitter.new(TO, host: "exit", linger: 60)
      Thread.pass until emitter.stats[:subscribed]
      3.times { |n| emitter.emit("app.exit", n: n) }
      puts "left open"
    RUBY
    expect([output, status.success?]).to eq(["left open\n", true])
    expect(events.map { |e| e["n"] }).to eq([0, 1, 2])
    expect(stats).to include(lost: 0, announcements: 1)

    events, = events_from(<<~RUBY, 0)
      emitter = Eventstorm::Emitter.new(TO, host: "exit", linger: 60, close_at_exit: false)
      Thread.pass until emitter.stats[:subscribed]
      emitter.emit("app.exit", n: 0)
    RUBY
    expect(events).to be_empty
  end

  it "at exit, each process closes the emitter it used, and only that one" do
    events, stats, output, = events_from(<<~RUBY, 4)
      emitter = Eventstorm::Emitter.new(TO, host: "exit", linger: 60)
      Thread.pass until emitter.stats[:subscribed]
      emitter.emit("app.fork", who: "parent")
      # A child that never uses the emitter leaves the parent's event alone.
      Process.wait(fork { exit })
      # One that does sends its own, in a stream of its own.
      Process.wait(fork do
        Thread.pass until emitter.stats[:subscribed]
        2.times { emitter.emit("app.fork", who: "child") }
      end)
      emitter.emit("app.fork", who: "parent")
      puts emitter.stats[:waiting]
    RUBY
    expect(output).to eq("2\n")
    expect(events.map { |e| e["who"] }.sort).to eq(%w[child child parent parent])
    expect(stats).to include(lost: 0, duplicates: 0, streams: 2)
  end

  it "close counts held events dropped when no subscriber came, and says so again" do
    emitter = Eventstorm::Emitter.new(">tcp://127.0.0.1:#{free_port}", close_at_exit: false)
    2.times { emitter.emit("app.held", n: 1) }
    expect(emitter.close(timeout: 0.1)).to be(false)
    expect(emitter.stats).to include(emitted: 2, waiting: 0, overflow: 2, sent: 0)
    expect(emitter.close(timeout: 0.1)).to be(false)
  end

  it "closes from a signal handler, where no Mutex can be locked" do
    endpoint = "tcp://127.0.0.1:#{free_port}"
    collector = Eventstorm::Collector.new("@#{endpoint}")
    emitter = Eventstorm::Emitter.new(">#{endpoint}", close_at_exit: false)
    received = Thread.new { collector.each(timeout: 2).to_a }
    Thread.pass until emitter.stats[:subscribed]
    emitter.emit("app.trap", n: 1)
    closed = Queue.new
    previous = Signal.trap("USR2") { closed << emitter.close(timeout: 5) }
    Process.kill("USR2", Process.pid)
    expect(closed.pop).to be(true)
    expect(received.value.map { |e| e["n"] }).to eq([1])
  ensure
    Signal.trap("USR2", previous || "DEFAULT")
    collector&.close
  end

  it "a forked child's stats and source are its own before its first event" do
    emitter = Eventstorm::Emitter.new(">tcp://127.0.0.1:#{free_port}", close_at_exit: false)
    emitter.emit("app.fork", n: 1)
    (pid,), (child,) = in_children do
      stats = emitter.stats
      { pid: stats[:pid], source: stats[:source].to_s, waiting: stats[:waiting],
        reader: emitter.source.to_s }
    end
    expect(child).to include("pid" => pid, "waiting" => 0, "reader" => child["source"])
    expect(child["source"]).not_to eq(emitter.source.to_s)
    expect(emitter.stats).to include(waiting: 1, pid: Process.pid)
  ensure
    emitter&.close(timeout: 0)
  end
end

