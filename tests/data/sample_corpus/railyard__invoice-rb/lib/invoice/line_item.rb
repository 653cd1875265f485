# frozen_string_literal: true

require "bigdecimal"

class Invoice
  # One billed position. Amounts are BigDecimal so that cents never drift.
  class LineItem
    attr_reader :description, :quantity, :unit_price

    def initialize(description:, quantity:, unit_price:)
      raise ArgumentError, "quantity must be positive" unless quantity.to_i.positive?

      @description = description.to_s.strip
      @quantity = quantity.to_i
      @unit_price = BigDecimal(unit_price.to_s)
    end

    def total
      (unit_price * quantity).round(2)
    end

    def to_h
      { description: description, quantity: quantity, unit_price: unit_price.to_s("F"), total: total.to_s("F") }
    end
  end
end
