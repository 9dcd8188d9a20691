Feature: Asking for a sandbox account in Slack, and answering in Slack
  An engineer types `/spa request [LEASE]`; spa gives them a free pool account of a
  unit that opens requests (`requests.feature`), at once, or once one of the unit's
  approvers (`requests.approvers`, Slack user ids) clicks Approve in the direct message
  spa sends them. The person who asked is told where to sign in; a request nobody
  answers expires. The holder pushes the end of their lease with `/spa extend` or the
  Extend button, within `lease_extension`; an admin unfreezes an account the spend
  guard froze with the button of its notice. A click is signed by Slack like a command
  and verified the same way; who may do what is decided from the clicker's Slack user
  id and the settings, never from what the button carries. The organization and Slack
  are in-memory doubles here; `engine/local/tests/local/slack_requests.rs` covers the
  corners and kills the approval at every step.

  Background:
    Given the Slack users:
      | user      | email                |
      | UJANE     | jane.doe@example.com |
      | UJOHN     | john.roe@example.com |
      | UAPPROVER | lead@example.com     |
      | UADMIN    | boss@example.com     |
    And the Slack admins "UADMIN"
    And the sandbox unit's settings:
      """
      lease: 30d
      lease_extension: 14d
      requests:
        feature: enabled
        approvers: [UAPPROVER]
        expiry: 24h
      """
    And the sandbox accounts:
      | account      | name         | holder               |
      | 222222222222 | john-sandbox | john.roe@example.com |
    And the pool accounts "333333333333, 444444444444"

  Rule: a request waits for an approver, who answers with a button

    Scenario: a request approved gives the longest prepared pool account
      When "UJANE" sends "/spa request"
      Then the asker sees "Working on `request`"
      When the queued job runs
      Then the posted answer shows "waits for an approver"
      And "UAPPROVER" got a direct message that says "<@UJANE> asks for a sandbox account"
      And the account "333333333333" has no holder
      When "UAPPROVER" clicks "approve" on the request
      And the queued job runs
      Then the account "333333333333" is "assigned" and held by "jane.doe@example.com"
      And the account "444444444444" has no holder
      And "UJANE" got a direct message that says "<@UAPPROVER> approved your request."
      And "UJANE" got a direct message that says "is yours"
      And the posted answer shows "was given to <@UJANE>"

    Scenario: the person who asks, or anyone but an approver, cannot approve
      When "UJANE" sends "/spa request"
      And the queued job runs
      And "UJANE" clicks "approve" on the request
      And the queued job runs
      Then the posted answer shows "only the approvers of this unit answer its requests"
      When "UADMIN" clicks "approve" on the request
      And the queued job runs
      Then the posted answer shows "only the approvers of this unit answer its requests"
      And the account "333333333333" has no holder
      And the account "444444444444" has no holder

    Scenario: a denied request is told, and a late approval is refused
      When "UJANE" sends "/spa request"
      And the queued job runs
      And "UAPPROVER" clicks "deny" on the request
      And the queued job runs
      Then "UJANE" got a direct message that says "denied your request"
      When "UAPPROVER" clicks "approve" on the request
      And the queued job runs
      Then the posted answer shows "this request was denied already"
      And the account "333333333333" has no holder

    Scenario: a request nobody answers expires
      When "UJANE" sends "/spa request"
      And the queued job runs
      And 25 hours pass
      And "UAPPROVER" clicks "approve" on the request
      And the queued job runs
      Then the posted answer shows "this request expired"
      And the account "333333333333" has no holder

  Rule: without approvers, a request is granted at once, one account a person

    Scenario: the lease asked is written, and a second request is refused
      Given the sandbox unit's settings:
        """
        lease: 30d
        requests:
          feature: enabled
        """
      When "UJANE" sends "/spa request 7d"
      And the queued job runs
      Then the posted answer shows "is yours"
      And the posted answer shows "https://"
      And the account "333333333333" is "assigned" and held by "jane.doe@example.com"
      And the account "333333333333" has the tag "account-lease-until" = "2025-03-08T08:00:00Z"
      When "UJANE" sends "/spa request"
      And the queued job runs
      Then the posted answer shows "You hold 1 sandbox account already"
      And the account "444444444444" has no holder

  Rule: a holder extends their lease within the settings, an admin unfreezes

    Scenario: the holder extends, a stranger may not
      When "UJOHN" sends "/spa extend 222222222222 7d"
      And the queued job runs
      Then the posted answer shows "now ends 2025-03-10 08:00 UTC"
      When "UJOHN" clicks "extend" for "222222222222"
      And the queued job runs
      Then the posted answer shows "now ends 2025-03-17 08:00 UTC"
      When "UJANE" clicks "extend" for "222222222222"
      And the queued job runs
      Then the posted answer shows "You can ask only about accounts you hold"
      And the account "222222222222" has the tag "account-lease-until" = "2025-03-17T08:00:00Z"

    Scenario: only an admin unfreezes with the button
      Given "222222222222" is frozen by the spend guard
      When "UJOHN" clicks "unfreeze" for "222222222222"
      And the queued job runs
      Then the posted answer shows "Only spa's admins"
      And the account "222222222222" has the tag "account-state" = "frozen"
      When "UADMIN" clicks "unfreeze" for "222222222222"
      And the queued job runs
      Then the account "222222222222" is "assigned" and held by "john.roe@example.com"
