# frozen_string_literal: true

require "invoice"

RSpec.describe Invoice do
  subject(:invoice) do
    described_class.new(number: "2024-0042", customer: "cust-4711", issued_on: Date.new(2024, 3, 1))
  end

  before do
    invoice.add_item(description: "Espresso machine service", quantity: 1, unit_price: "180.00")
    invoice.add_item(description: "Descaling tablets", quantity: 3, unit_price: "7.95")
  end

  it "sums the line items" do
    expect(invoice.subtotal).to eq(BigDecimal("203.85"))
  end

  it "adds tax rounded to cents" do
    expect(invoice.tax).to eq(BigDecimal("38.73"))
  end

  it "is due thirty days after issue" do
    expect(invoice.due_on).to eq(Date.new(2024, 3, 31))
    expect(invoice.overdue?(Date.new(2024, 4, 1))).to be(true)
  end

  it "refuses an empty number" do
    expect { described_class.new(number: " ", customer: "x") }.to raise_error(ArgumentError)
  end
end
