# frozen_string_literal: true

require_relative "spec_helper"

RSpec.describe Eventstorm::Endpoint do
  it "splits a list on commas and trims blanks around each entry" do
    expect(described_class.parse(" @tcp://*:1 , >tcp://h:2,\ttcp://g:3 ")).to eq(
      [[:bind, "tcp://*:1"], [:connect, "tcp://h:2"], [:connect, "tcp://g:3"]]
    )
  end

  it "takes an Array of lists" do
    expect(described_class.parse([">tcp://h:1", "@ipc:///tmp/x,>tcp://g:2"])).to eq(
      [[:connect, "tcp://h:1"], [:bind, "ipc:///tmp/x"], [:connect, "tcp://g:2"]]
    )
  end

  it "refuses an empty entry where it stands, as libeventstorm and the TypeScript side do" do
    {
      ">tcp://h:1,,>tcp://g:2" => "(entry 2)",
      ">tcp://h:1," => "(entry 2)",
      ">tcp://h:1, " => "(entry 2)",
      ",>tcp://h:1" => "(entry 1)"
    }.each do |spec, entry|
      expect { described_class.parse(spec) }
        .to raise_error(ArgumentError, "invalid endpoint #{spec.inspect}: empty #{entry}")
    end
    expect { described_class.parse([">tcp://h:1", ">tcp://g:2,"]) }
      .to raise_error(ArgumentError, /">tcp:\/\/g:2,": empty \(entry 2\)/)
  end

  it "refuses a list with no endpoint, and an unknown transport" do
    ["", " , ", []].each do |spec|
      expect { described_class.parse(spec) }.to raise_error(ArgumentError, "no endpoint given")
    end
    expect { described_class.parse("udp://h:1") }.to raise_error(ArgumentError, /expected tcp:/)
  end
end
