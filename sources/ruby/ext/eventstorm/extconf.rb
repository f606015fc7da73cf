# frozen_string_literal: true

# Builds eventstorm/native, the C writer of Eventstorm::Rack's events. Without Ruby's headers
# (Debian's ruby-dev) or a C compiler the gem installs without it: HitFields writes the same
# bytes in Ruby, at a few µs more per request.
begin
  require "mkmf"
  raise LoadError, "no C compiler" unless find_executable(RbConfig::CONFIG["CC"].split.first)

  $CFLAGS << " -O2 -std=c99 -Wall -Wextra -Wno-unused-parameter"
  create_makefile("eventstorm/native")
rescue LoadError, SystemExit => e
  warn "eventstorm: building without the native writer (#{e.message.lines.first&.strip}); " \
       "Eventstorm::Rack writes its events in Ruby"
  File.write("Makefile", "all install clean:\n\t@:\n")
end
