# frozen_string_literal: true

require_relative "lib/eventstorm/version"

Gem::Specification.new do |spec|
  spec.name = "eventstorm"
  spec.version = Eventstorm::VERSION
  spec.summary = "Emit and collect eventstorm events (BSON over ZeroMQ) from Ruby, " \
                 "with a Rack middleware"
  spec.description = <<~TEXT
    A Ruby client of eventstorm's wire protocol v1: an Emitter that batches events per topic,
    numbers each stream and counts every drop; a Collector with exact loss, duplicate and
    malformed accounting; and Eventstorm::Rack, which makes any Rack app a source of http.hit
    events with the same fields as the nginx source.
  TEXT
  spec.authors = ["eventstorm contributors"]
  spec.license = "MIT"
  spec.homepage = "https://github.com/eventstorm/eventstorm"
  # Protocol's String#unpack1(offset:) and Forks' Process._fork came with Ruby 3.1.
  spec.required_ruby_version = ">= 3.1"
  spec.files = Dir["lib/**/*.rb"] + %w[README.md LICENSE eventstorm.gemspec]
  spec.require_paths = ["lib"]
  spec.add_dependency "bson", ">= 4.8", "< 6"
  spec.add_dependency "ffi-rzmq", "~> 2.0"
  spec.metadata["rubygems_mfa_required"] = "true"
end
