@serial
Feature: Exceptions reach the people who act on them
  When something needs a person, spa records it in the account's history, then tells
  the channels that `notifications.routes` gives its label: Slack (Block Kit), Microsoft
  Teams (Adaptive Card) and e-mail (SES), and the holder when the route says so.
  Here spa runs on the emulator (moto) as in accounts.feature. The chat webhooks are a
  real local HTTP server that records what it receives; their URLs are kept in SSM
  Parameter Store and Secrets Manager, as the settings name them. Incident Manager is
  off: the emulator lacks it (incidents are checked against the exact API requests in
  the engine's tests).

  Background:
    Given the organizational units:
      | unit         | parent |
      | ou-sandboxes | root   |
      | ou-parking   | root   |
    And spa manages "ou-sandboxes" with the settings:
      """
      preparation: {feature: enabled}
      purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
      budget: {amount: 100, currency: USD, thresholds: [80, 100]}
      max_attempts: 2
      """
    And chat webhooks that record what they receive
    And the notification routes:
      """
      default:
        channels: [slack]
      BudgetAlert:
        channels: [slack, teams, email]
        notify_holder: true
      ConsoleLoginWithRoot:
        channels: [slack, teams]
      AccountQuarantined:
        channels: [teams, email]
      """
    And the accounts:
      | account | unit         | holder           |
      | jane    | ou-sandboxes | jane@example.com |
      | stray   | ou-parking   |                  |

  Rule: every prepared account has the budget of its settings, its holder told of alerts

    Scenario: a budget is created when the account is prepared, with the holder as subscriber
      When AWS Organizations reports that "jane" was created
      Then "jane" is "assigned"
      And the budget of "jane" is 100 USD with alerts at 80% and 100%
      And the budget alerts of "jane" go to its own topic and to "jane@example.com"

    Scenario: a budget alert reaches Slack, Teams, the SRE mailbox and the holder
      Given AWS Organizations reported that "jane" was created
      When AWS Budgets notifies that "jane" spent 85.20 USD of its 100 USD budget, over 80%
      Then the history of "jane" includes BudgetAlert
      And Slack received 1 message about "jane" that says "BudgetAlert"
      And Teams received 1 card about "jane" that says "BudgetAlert"
      And an e-mail about "BudgetAlert" was sent to "sre@example.com"
      And "jane" was told by e-mail

    Scenario: the same alert delivered twice by SNS is told once
      Given AWS Organizations reported that "jane" was created
      When AWS Budgets notifies that "jane" spent 85.20 USD of its 100 USD budget, over 80%, twice
      Then Slack received 1 message about "jane" that says "BudgetAlert"

    Scenario: a budget message that does not read is refused, never retried, the others go on
      Given AWS Organizations reported that "jane" was created
      When the budget alerts queue delivers a message that is not a budget alert, then an alert for "jane"
      Then the message is refused, not retried, because "a message without its SNS envelope (raw message delivery: no topic says who sent it) may not say a budget alert"
      And Slack received 1 message about "jane" that says "BudgetAlert"

  Rule: console sign-ins are recorded; root and IAM users are exceptions

    Scenario: the root user signs in: Slack and Teams are told
      Given AWS Organizations reported that "jane" was created
      When the root user signs in to "jane"
      Then the history of "jane" includes ConsoleLoginWithRoot
      And Slack received 1 message about "jane" that says "ConsoleLoginWithRoot"
      And Teams received 1 card about "jane" that says "ConsoleLoginWithRoot"

    Scenario: a person signs in through SSO: recorded as the last sign-in, nobody told
      Given AWS Organizations reported that "jane" was created
      When a person signs in to "jane" through SSO
      Then the history of "jane" includes ConsoleLogin
      And the last sign-in of "jane" is recorded
      And Slack received no message

    Scenario: a sign-in to an account spa does not manage is recorded, nobody is paged
      When the root user signs in to "stray"
      Then the history of "stray" includes ConsoleLoginWithRoot
      And Slack received no message

  Rule: failures and deadlines go to their routes

    Scenario: a preparation that keeps failing: the last failure to Slack, the quarantine to Teams and e-mail
      Given the scenario reports the ends of builds itself
      And AWS Organizations reported that "jane" was created
      When the preparation build of "jane" ends FAILED
      And the preparation build of "jane" ends FAILED
      Then "jane" is "quarantined"
      And Slack received 1 message about "jane" that says "BuildFailed"
      And Teams received 1 card about "jane" that says "AccountQuarantined"
      And an e-mail about "AccountQuarantined" was sent to "sre@example.com"

    Scenario: an on-boarding past its deadline is told
      Given the scenario reports the ends of builds itself
      And AWS Organizations reported that "jane" was created
      When EventBridge Scheduler runs the sweeper 3 hours later
      Then "jane" is "quarantined"
      And Slack received 1 message about "jane" that says "OnboardingTimedOut"

  Rule: a channel that is down never loses the exception nor blocks the other channels

    Scenario: Slack answers 500: retried, then reported; Teams and e-mail still go out
      Given AWS Organizations reported that "jane" was created
      And the Slack webhook answers 500
      When AWS Budgets notifies that "jane" spent 85.20 USD of its 100 USD budget, over 80%
      Then the history of "jane" includes BudgetAlert
      And Slack was tried 3 times
      And Teams received 1 card about "jane" that says "BudgetAlert"
      And an e-mail about "BudgetAlert" was sent to "sre@example.com"
