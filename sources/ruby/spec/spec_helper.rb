# frozen_string_literal: true

$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "eventstorm"
require "json"
require "socket"
require "timeout"
require "fileutils"
require "tmpdir"
require "English"

# Starts the project's own TypeScript components (router, tap, emit, keygen) for the
# interoperability specs.
module ProjectProcesses
  ROOT = File.expand_path("../../..", __dir__)
  DENO = %w[npx -y deno@2.9.6 run -A cli.ts].freeze

  # Below this the kernel gives no port of its own (bind to port 0, an outgoing
  # connection's local port).
  EPHEMERAL_LOW = begin
    Integer(File.read("/proc/sys/net/ipv4/ip_local_port_range").split.first)
  rescue StandardError
    32_768
  end

  # A loopback TCP port free a moment ago, for a router started later. Picked below the
  # kernel's ephemeral range: a port 0 gave is the kernel's to give again, and with the
  # whole suite running, a connection made before the router's bind (it takes the router
  # a second to start) could take it as its local port.
  def free_port
    loop do
      port = rand(10_000...EPHEMERAL_LOW)
      begin
        TCPServer.new("127.0.0.1", port).close
        return port
      rescue Errno::EADDRINUSE, Errno::EACCES
        next
      end
    end
  end

  # Spawns `eventstorm ARGS` with its output in a file; killed after the example.
  def eventstorm(*args, stdin: nil, output: nil)
    unless output
      output = File.join(Dir.tmpdir, "eventstorm-rspec-#{Process.pid}-#{rand(1 << 30)}.log")
      (@outputs ||= []) << output
    end
    options = { chdir: ROOT, out: output, err: [:child, :out], pgroup: true }
    options[:in] = stdin if stdin
    pid = Process.spawn(*DENO, *args, **options)
    (@spawned ||= []) << pid
    [pid, output]
  end

  def stop(pid, signal = "TERM")
    Process.kill(signal, -pid)
    Timeout.timeout(30) { Process.wait(pid) }
  rescue Errno::ESRCH, Errno::ECHILD
    nil
  end

  def router(sources, sinks, *extra)
    eventstorm("router", "--sources", "@tcp://127.0.0.1:#{sources}",
               "--sinks", "@tcp://127.0.0.1:#{sinks}", "--stats-interval", "0s", *extra)
  end

  def wait_until(timeout: 60, step: 0.05)
    deadline = Eventstorm.monotonic + timeout
    until (value = yield)
      raise "condition not met within #{timeout}s" if
        Eventstorm.monotonic > deadline

      sleep step
    end
    value
  end
end

# An empty batch of http.hit events from web1, for the specs that write one.
module HitBatches
  def hit_batch
    @hit_envelope ||= Eventstorm::Batch.envelope("http.hit", "web1")
    Eventstorm::Batch.new("http.hit", "web1", @hit_envelope)
  end
end

RSpec.configure do |config|
  config.include ProjectProcesses
  config.include HitBatches
  config.after do |example|
    (@spawned || []).each { |pid| stop(pid, "KILL") }
    # The processes' output stays for a failed example, to read why.
    (@outputs || []).each { |path| FileUtils.rm_f(path) } unless example.exception
  end
end
