# frozen_string_literal: true

require_relative "spec_helper"
require "tmpdir"

# Ruby and TypeScript through the project's real router, with and without CURVE.
RSpec.describe "interoperability through the router" do
  let(:sources) { free_port }
  let(:sinks) { free_port }

  def tap_totals(log)
    line = File.read(log).scan(/total (\d+) events, lost (\d+), duplicates (\d+), malformed (\d+)/)
                .last or return nil
    %i[events lost duplicates malformed].zip(line.map(&:to_i)).to_h
  end

  def ruby_to_tap(count, emitter_curve: nil, router_args: [], tap_args: [])
    router(sources, sinks, *router_args)
    _, log = eventstorm("tap", "--from", "tcp://127.0.0.1:#{sinks}", "--stats",
                        "--interval", "200ms", *tap_args)
    emitter = Eventstorm::Emitter.new(">tcp://127.0.0.1:#{sources}", host: "rspec",
                                                                    curve: emitter_curve)
    wait_until(timeout: 90) { emitter.stats[:subscribed] } # the tap's subscription arrived
    count.times { |i| emitter.emit("app.ruby", n: i, text: "x" * 100) }
    expect(emitter.close(timeout: 30)).to be(true)
    stats = emitter.stats
    expect(stats).to include(sent: count, dropped: 0, overflow: 0)
    wait_until(timeout: 60) { (tap_totals(log) || {})[:events] == count }
    sleep 0.5
    expect(tap_totals(log)).to eq(events: count, lost: 0, duplicates: 0, malformed: 0)
  end

  it "Ruby emitter → router → TypeScript tap --stats counts every event exactly" do
    ruby_to_tap(20_000)
  end

  # A router with --when-full block holds what a stalled receiver cannot take and stops
  # reading, so the emitter's queue fills: its batches wait in the emitter (within hold:),
  # not in libzmq (10,000 messages before 0.2, dropped past them), and all arrive.
  it "Ruby emitter behind a blocking router: a receiver that stalls loses nothing" do
    router(sources, sinks, "--when-full", "block", "--source-hwm", "10", "--sink-hwm", "10")
    collector = Eventstorm::Collector.new(">tcp://127.0.0.1:#{sinks}", prefixes: ["app."])
    emitter = Eventstorm::Emitter.new(">tcp://127.0.0.1:#{sources}", host: "rspec",
                                                                    batch_size: 1)
    collector.receive(timeout: 0.5) # subscribes, then reads nothing while the emitter floods
    wait_until(timeout: 90) { emitter.stats[:subscribed] }
    count = 60_000
    count.times { |i| emitter.emit("app.stall", n: i, text: "x" * 300) }
    held = emitter.stats
    expect(held[:waiting]).to be > 0 # the pushback reached the emitter
    expect(held).to include(dropped: 0, overflow: 0)
    received = Thread.new { collector.each(timeout: 20).first(count) }
    expect(emitter.close(timeout: 60)).to be(true)
    events = received.value
    expect(emitter.stats).to include(sent: count, dropped: 0, overflow: 0, waiting: 0)
    expect(events.map { |e| e["n"] }).to eq((0...count).to_a)
    expect(collector.stats).to include(lost: 0, duplicates: 0)
  ensure
    collector&.close
  end

  it "TypeScript emit → router → Ruby collector counts every event exactly" do
    router(sources, sinks)
    collector = Eventstorm::Collector.new(">tcp://127.0.0.1:#{sinks}", prefixes: ["app."])
    count = 2_000
    lines = Array.new(count) { |i| JSON.generate(type: "app.ts", n: i) }
    # Subscribe before the emitter starts: the TypeScript emitter also waits for a subscriber.
    collector.receive(timeout: 1)
    emit_pid, emit_log = eventstorm("emit", "--to", "tcp://127.0.0.1:#{sources}",
                                    "--host", "ts", input: lines)
    events = collector.each(timeout: 20).first(count)
    Process.wait(emit_pid)
    expect($CHILD_STATUS.exitstatus).to eq(0), File.read(emit_log)
    expect(events.size).to eq(count)
    expect(events.map { |e| e["n"] }).to eq((0...count).to_a)
    expect(events.first).to include("type" => "app.ts", "host" => "ts")
    expect(collector.stats).to include(lost: 0, duplicates: 0, rejected: 0, streams: 1)
    expect(collector.stats[:malformed]).to be_empty
  ensure
    collector&.close
  end

  it "TypeScript emit → router → Ruby collector tells each event's stream and index" do
    router(sources, sinks)
    collector = Eventstorm::Collector.new(">tcp://127.0.0.1:#{sinks}", prefixes: ["app."])
    count = 1_000
    # Two topics of one emitter: two streams of one source, each numbered from 0.
    lines = Array.new(count) { |i| JSON.generate(type: i.even? ? "app.even" : "app.odd", n: i) }
    collector.receive(timeout: 1) # subscribed before the emitter starts
    emit_pid, emit_log = eventstorm("emit", "--to", "tcp://127.0.0.1:#{sources}",
                                    "--host", "ts", input: lines)
    deliveries = collector.each_delivery(timeout: 20).first(count)
    Process.wait(emit_pid)
    expect($CHILD_STATUS.exitstatus).to eq(0), File.read(emit_log)
    expect(deliveries.size).to eq(count)
    expect(deliveries.map(&:source).uniq.size).to eq(1)
    expect(deliveries.first.source).to be_between(1, (2**64) - 1)
    %w[app.even app.odd].each_with_index do |topic, parity|
      mine = deliveries.select { |delivery| delivery.topic == topic }
      expect(mine.map(&:index)).to eq((0...(count / 2)).to_a)
      expect(mine.map { |delivery| delivery.event["n"] })
        .to eq(Array.new(count / 2) { |i| (2 * i) + parity })
      expect(mine.map { |delivery| delivery.event["type"] }.uniq).to eq([topic])
    end
    expect(collector.stats).to include(lost: 0, duplicates: 0, rejected: 0, streams: 2)
  ensure
    collector&.close
  end

  context "with CURVE keys from eventstorm keygen" do
    let(:keys) { Dir.mktmpdir("eventstorm-rspec-keys") }

    after { FileUtils.remove_entry(keys) }

    def keygen(name)
      pid, log = eventstorm("keygen", File.join(keys, name))
      Process.wait(pid)
      raise "keygen failed: #{File.read(log)}" unless $CHILD_STATUS.success?
    end

    it "a Ruby emitter and a Ruby collector talk to a CURVE router admitting only known keys" do
      %w[router web1 tap].each { |name| keygen(name) }
      allowed = File.join(keys, "allowed")
      FileUtils.mkdir_p(allowed)
      FileUtils.cp(File.join(keys, "web1"), allowed)
      FileUtils.cp(File.join(keys, "tap"), allowed)
      router_pub = File.join(keys, "router")
      ruby_to_tap(1_000,
                  emitter_curve: { server_key: router_pub,
                                   certificate: File.join(keys, "web1_secret") },
                  router_args: ["--curve-secret", File.join(keys, "router_secret"),
                                "--allow-keys", allowed],
                  tap_args: ["--curve-server", router_pub,
                             "--curve-secret", File.join(keys, "tap_secret")])

      # The collector, with keys given as Z85 text.
      pair = Eventstorm::Curve.read_certificate(File.join(keys, "tap_secret"), secret: true)
      collector = Eventstorm::Collector.new(
        ">tcp://127.0.0.1:#{sinks}", prefixes: ["app."],
        curve: { server_key: Eventstorm::Curve.read_certificate(router_pub)["public-key"],
                 public_key: pair["public-key"], secret_key: pair["secret-key"] }
      )
      emitter = Eventstorm::Emitter.new(
        ">tcp://127.0.0.1:#{sources}",
        curve: { server_key: router_pub, certificate: File.join(keys, "web1_secret") }
      )
      collector.receive(timeout: 0.5)
      wait_until(timeout: 60) { emitter.stats[:subscribed] }
      100.times { |i| emitter.emit("app.curve", n: i) }
      emitter.close(timeout: 10)
      expect(collector.each(timeout: 10).first(100).map { |e| e["n"] }).to eq((0...100).to_a)
      expect(collector.stats).to include(lost: 0)
      collector.close

      # A key the router does not know gets nothing through.
      keygen("stranger")
      stranger = Eventstorm::Emitter.new(
        ">tcp://127.0.0.1:#{sources}",
        curve: { server_key: router_pub, certificate: File.join(keys, "stranger_secret") }
      )
      sleep 2
      expect(stranger.stats[:subscribed]).to be(false)
      stranger.close(timeout: 0)
    end

    it "an emitter reaches two routers with key pairs of their own, one server key each" do
      %w[east west web1 tap].each { |name| keygen(name) }
      allowed = File.join(keys, "allowed")
      FileUtils.mkdir_p(allowed)
      %w[web1 tap].each { |name| FileUtils.cp(File.join(keys, name), allowed) }
      ports = { "east" => [free_port, free_port], "west" => [free_port, free_port] }
      ports.each do |name, (from, to)|
        router(from, to, "--curve-secret", File.join(keys, "#{name}_secret"),
               "--allow-keys", allowed)
      end
      tap_pair = Eventstorm::Curve.read_certificate(File.join(keys, "tap_secret"), secret: true)
      collectors = ports.to_h do |name, (_, to)|
        [name, Eventstorm::Collector.new(
          ">tcp://127.0.0.1:#{to}", prefixes: ["app."],
          curve: { server_key: File.join(keys, name), public_key: tap_pair["public-key"],
                   secret_key: tap_pair["secret-key"] }
        )]
      end
      collectors.each_value { |collector| collector.receive(timeout: 0.5) }
      emitter = Eventstorm::Emitter.new(
        ports.values.map { |(from, _)| ">tcp://127.0.0.1:#{from}" },
        curve: { server_key: %w[east west].map { |name| File.join(keys, name) },
                 certificate: File.join(keys, "web1_secret") }
      )
      # Both routers' subscriptions: one probe reaches each collector.
      wait_until(timeout: 60) { emitter.stats[:subscribed] }
      probes = { "east" => [], "west" => [] }
      wait_until(timeout: 60) do
        emitter.emit("app.probe")
        emitter.flush(timeout: 1)
        collectors.each { |name, c| probes[name].concat(c.each(timeout: 0.1).first(1)) }
        probes.values.all? { |got| !got.empty? }
      end
      100.times { |i| emitter.emit("app.curve", n: i) }
      emitter.close(timeout: 10)
      collectors.each_value do |collector|
        got = collector.each(timeout: 10).lazy.reject { |e| e["type"] == "app.probe" }.first(100)
        expect(got.map { |e| e["n"] }).to eq((0...100).to_a)
        expect(collector.stats).to include(lost: 0)
        collector.close
      end
    end

    it "refuses server keys that do not pair with the endpoints, naming no key" do
      keygen("web1")
      key = Eventstorm::Curve.read_certificate(File.join(keys, "web1"))["public-key"]
      expect do
        Eventstorm::Emitter.new(">tcp://127.0.0.1:#{sources}",
                                curve: { server_key: [key, key],
                                         certificate: File.join(keys, "web1_secret") })
      end.to raise_error(Eventstorm::Error) { |e|
        expect(e.message).to eq("curve: 2 server keys for 1 endpoint: give one for all, or one " \
                                "per endpoint in the order they are given")
      }
    end

    it "refuses a secret certificate readable by others, without printing the key" do
      keygen("loose")
      secret = File.join(keys, "loose_secret")
      File.chmod(0o644, secret)
      key = File.read(secret)[/secret-key = "(.{40})"/, 1]
      expect do
        Eventstorm::Emitter.new(">tcp://127.0.0.1:#{sources}",
                                curve: { server_key: File.join(keys, "loose"),
                                         certificate: secret })
      end.to raise_error(Eventstorm::Error) { |e|
        expect(e.message).to include(secret)
        expect(e.message).not_to include(key)
      }
    end
  end
end
