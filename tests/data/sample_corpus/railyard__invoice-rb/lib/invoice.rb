# frozen_string_literal: true

require "bigdecimal"
require "date"
require_relative "invoice/line_item"

# An invoice with line items, a tax rate and a due date.
class Invoice
  attr_reader :number, :customer, :issued_on, :items, :tax_rate

  PAYMENT_TERMS_DAYS = 30

  def initialize(number:, customer:, issued_on: Date.today, tax_rate: "0.19")
    raise ArgumentError, "invoice number must be present" if number.to_s.strip.empty?

    @number = number
    @customer = customer
    @issued_on = issued_on
    @tax_rate = BigDecimal(tax_rate.to_s)
    @items = []
  end

  def add_item(description:, quantity:, unit_price:)
    @items << LineItem.new(description: description, quantity: quantity, unit_price: unit_price)
    self
  end

  def subtotal
    items.sum(BigDecimal("0"), &:total)
  end

  def tax
    (subtotal * tax_rate).round(2)
  end

  def total
    subtotal + tax
  end

  def due_on
    issued_on + PAYMENT_TERMS_DAYS
  end

  def overdue?(today = Date.today)
    today > due_on
  end

  def to_h
    {
      number: number,
      customer: customer,
      issued_on: issued_on.iso8601,
      due_on: due_on.iso8601,
      items: items.map(&:to_h),
      subtotal: subtotal.to_s("F"),
      tax: tax.to_s("F"),
      total: total.to_s("F")
    }
  end
end
