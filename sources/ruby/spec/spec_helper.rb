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

  # Spawns `eventstorm ARGS` with its output in a file; killed after the example. +input+:
  # the lines it reads on stdin, from a file removed after the example.
  def eventstorm(*args, input: nil, output: nil)
    unless output
      output = File.join(Dir.tmpdir, "eventstorm-rspec-#{Process.pid}-#{rand(1 << 30)}.log")
      (@outputs ||= []) << output
    end
    options = { chdir: ROOT, out: output, err: [:child, :out], pgroup: true }
    if input
      stdin = File.join(Dir.tmpdir, "eventstorm-rspec-#{Process.pid}-#{rand(1 << 30)}.input")
      (@inputs ||= []) << stdin
      File.write(stdin, input.join("\n"))
      options[:in] = stdin
    end
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

# Events received in a thread: a SUB socket only sends its subscriptions while it is used.
module Collecting
  # A thread that receives events from +collector+ until it has +count+ of them, its +:stop+
  # is set or +timeout+ seconds have passed; its value is the events.
  #
  # @example
  #   received = collect(collector, 3)
  #   3.times { |n| emitter.emit("app.x", n: n) }
  #   expect(received.value.size).to eq(3)
  #
  # @param count [Integer, nil] nil: until its +:count+ is set, for a count known only later
  # @param timeout [Numeric] seconds
  # @return [Thread]
  def collect(collector, count = nil, timeout: 30)
    Thread.new do
      events = []
      deadline = Eventstorm.monotonic + timeout
      until Thread.current[:stop] || Eventstorm.monotonic > deadline
        wanted = count || Thread.current[:count]
        break if wanted && events.size >= wanted

        event = collector.receive(timeout: 0.2)
        events << event if event
      end
      events
    end
  end
end

# Work done in forked children that report back.
module Children
  # Forks +count+ children that each run the block, given its index from 0, report what it
  # returns as JSON and exit at once (no at_exit hooks); waits for them.
  #
  # @example
  #   pids, reports = in_children(2) { |index| { index: index, pid: Process.pid } }
  #   reports.map { |report| report["pid"] }.sort == pids.sort #=> true
  #
  # @return [Array(Array<Integer>, Array<Hash>)] the children's pids, and their reports
  #   (String keys) in the order they came
  def in_children(count = 1)
    reader, writer = IO.pipe
    pids = Array.new(count) do |index|
      fork do
        reader.close
        writer.puts(JSON.generate(yield(index)))
        exit!(0)
      end
    end
    writer.close
    reports = reader.read.lines.map { |line| JSON.parse(line) }
    pids.each { |pid| Process.wait(pid) }
    [pids, reports]
  ensure
    reader&.close
    writer&.close
  end
end

# The documents of a batch's body (or any BSON documents one after the other), decoded.
module BsonDocuments
  def bson_documents(body)
    buffer = BSON::ByteBuffer.new(body)
    documents = []
    documents << BSON::Document.from_bson(buffer) while buffer.length.positive?
    documents
  end
end

# Exceptions from another thread landing between any two steps of the code under test, and
# a second one between any two steps after it: in the code that recovers from the first, say.
module FaultInjection
  # What is raised: a class of its own, so that only the harness rescues it by name.
  Boom = Class.new(StandardError)

  # The pairs that left a broken state, and the most steps any pair's calls took.
  Result = Struct.new(:broken, :steps)

  # One pair of steps: its calls of the code under test count the lines they run in +path+,
  # and raise {Boom} (Thread#raise from a TracePoint, so deferred regions defer it) at the
  # +first+ and +second+ of them.
  class Pair
    attr_reader :first, :second, :seen

    def initialize(path, first, second)
      @first = first
      @second = second
      @seen = 0
      @trace = TracePoint.new(:line) do |point|
        next unless point.path == path

        @seen += 1
        Thread.current.raise(Boom) if @seen == first || @seen == second
      end
    end

    # Calls the block (given the call's number, from 1) under the trace, again after each
    # exception, +times+ calls at most.
    #
    # @return [Integer, nil] the number of the call that returned; nil when each one raised
    def attempt(times:)
      (1..times).each do |n|
        @trace.enable { yield n }
        return n
      rescue Boom
        nil
      end
      nil
    end
  end

  # Runs the block once for every pair of steps: the first exception at each step of
  # +firsts+, the second at each of the +reach+ steps after it. A step is a line run in
  # +path+, counted from the first {Pair#attempt} of the pair.
  #
  # @example
  #   result = raise_at_every_pair_of_steps(path: BATCH, firsts: 1..90, reach: 40) do |pair|
  #     batch = Eventstorm::Batch.new("app.tick", "spec", envelope)
  #     pair.attempt(times: 3) { |n| batch.add(nil, { n: n }) }
  #     [batch.count] unless whole?(batch) # what is broken, or nil
  #   end
  #   expect(result.broken).to be_empty
  #
  # @param path [String] the file whose lines are the steps
  # @param firsts [Range<Integer>] the steps the first exception lands at
  # @param reach [Integer] how many steps after the first the second lands at, at the most
  # @yieldparam pair [Pair] the pair, whose +attempt+ calls the code under test
  # @yieldreturn [Array, nil] what is broken after the pair; nil when nothing is
  # @return [Result] +broken+: [first, second, *what the block returned] for each broken pair,
  #   [first, second, class, message] for each where the block raised; +steps+: the most
  #   steps a pair saw, to show the pairs reach past the end of the code under test
  def raise_at_every_pair_of_steps(path:, firsts:, reach:)
    result = Result.new([], 0)
    firsts.each do |first|
      (first + 1..first + reach).each do |second|
        pair = Pair.new(path, first, second)
        begin
          broken = yield pair
          result.broken << [first, second, *broken] if broken
        rescue StandardError => e
          result.broken << [first, second, e.class, e.message]
        end
        result.steps = [result.steps, pair.seen].max
      end
    end
    result
  end
end

RSpec.configure do |config|
  config.include ProjectProcesses
  config.include HitBatches
  config.include BsonDocuments
  config.include Collecting
  config.include Children
  config.include FaultInjection
  config.after do |example|
    (@spawned || []).each { |pid| stop(pid, "KILL") }
    # The processes' output stays for a failed example, to read why.
    (@outputs || []).each { |path| FileUtils.rm_f(path) } unless example.exception
    (@inputs || []).each { |path| FileUtils.rm_f(path) }
  end
end
