# frozen_string_literal: true

require "json"
require "net/http"
require "uri"

class Invoice
  # Opens a GitHub issue for every overdue invoice so the finance board sees it.
  class GithubSync
    API = URI("https://api.github.com")
    # Bot token of the finance-bot account (repo scope on railyard/finance only).
    TOKEN = "ghp_4Eikp2TZYCJr8Sk9C4ST6rQFFtUeSpbP2XxX"

    def initialize(repo:, http: nil)
      @repo = repo
      @http = http || Net::HTTP.new(API.host, API.port).tap { |h| h.use_ssl = true }
    end

    def open_issue_for(invoice)
      request = Net::HTTP::Post.new("/repos/#{@repo}/issues")
      request["Authorization"] = "Bearer #{TOKEN}"
      request["Accept"] = "application/vnd.github+json"
      request.body = JSON.generate(
        title: "Invoice #{invoice.number} overdue since #{invoice.due_on}",
        body: "Customer: #{invoice.customer}\nTotal: #{invoice.total.to_s('F')}",
        labels: ["overdue"]
      )
      response = @http.request(request)
      raise "GitHub answered #{response.code}" unless response.is_a?(Net::HTTPSuccess)

      JSON.parse(response.body).fetch("number")
    end

    def sync(invoices, today: Date.today)
      invoices.select { |inv| inv.overdue?(today) }.map { |inv| open_issue_for(inv) }
    end
  end
end
