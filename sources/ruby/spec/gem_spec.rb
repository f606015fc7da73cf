# frozen_string_literal: true

require_relative "spec_helper"

# What `gem build` packs: a gem that stands on its own.
RSpec.describe "the gem" do
  let(:root) { File.expand_path("..", __dir__) }
  let(:gemspec) { Dir.chdir(root) { Gem::Specification.load("eventstorm.gemspec") } }

  it "packs its license, and its README links to nothing outside it" do
    expect(gemspec.files).to include("LICENSE", "README.md")
    expect(gemspec.files.all? { |file| File.file?(File.join(root, file)) }).to be(true)
    links = File.read(File.join(root, "README.md")).scan(/\]\(([^)]+)\)/).flatten
    expect(links.reject { |link| link.start_with?("https://", "#") }).to eq([])
  end

  it "asks for the Ruby its code needs: unpack1(offset:) came with 3.1" do
    expect(gemspec.required_ruby_version).not_to be_satisfied_by(Gem::Version.new("3.0.6"))
    expect(gemspec.required_ruby_version).to be_satisfied_by(Gem::Version.new(RUBY_VERSION))
  end
end
