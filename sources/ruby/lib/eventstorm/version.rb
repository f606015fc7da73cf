# frozen_string_literal: true

module Eventstorm
  # The gem's version; the wire protocol it speaks is {Protocol::VERSION}.
  VERSION = "0.2.0"
end
