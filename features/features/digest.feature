@serial
Feature: The daily cost digest and the residual cost check
  Every day the `digest` job posts the organization's costs to chat, in the manner of
  aws-cost-cli: yesterday, the last 7 days, the month to date and last month, each
  against the period before of the same length, and the top services and accounts of
  the month. The same job checks that purged accounts stopped spending: one that
  still costs more than the threshold on a full day after its purge raises
  `ResidualCost`.
  spa runs on the emulator (moto) as in exceptions.feature, the job fired as
  EventBridge Scheduler would: Cost Explorer, Organizations, DynamoDB, the secrets of
  the webhooks, the bus; the chat webhooks are a local HTTP server that records what
  it receives. Moto tracks no cost: Cost Explorer answers what the scenario registers,
  computed from the daily costs it gives.

  Background:
    Given the organizational units:
      | unit         | parent |
      | ou-sandboxes | root   |
    And spa manages "ou-sandboxes" with the settings:
      """
      preparation: {feature: enabled}
      purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
      """
    And chat webhooks that record what they receive
    And the notification routes:
      """
      default:
        channels: [slack]
      """
    And the accounts:
      | account | unit         | holder           |
      | jane    | ou-sandboxes | jane@example.com |
      | john    | ou-sandboxes | john@example.com |
    And the daily digest is on

  Rule: the digest tells the organization's costs once a day, to Slack and Teams

    Scenario: a scheduled digest run posts one Slack message and one Teams card with the figures
      Given the daily costs:
        | account | service    | from       | to         | a day |
        | jane    | Amazon EC2 | 2026-10-01 | 2026-10-31 | 5.00  |
        | jane    | Amazon EC2 | 2026-11-01 | 2026-11-20 | 10.00 |
        | john    | Amazon S3  | 2026-11-20 | 2026-11-20 | 2.00  |
      When EventBridge Scheduler runs the digest of 2026-11-21
      Then Slack received 1 digest that says:
        | Cloud costs of the organization on 2026-11-21                 |
        | *Yesterday* (2026-11-20)\n*12.00 USD* +20.0% vs 10.00 USD    |
        | *Last month* (2026-10-01 – 2026-10-31)\n*155.00 USD* new      |
        | 1. jane ({jane}): 200.00 USD (+100.0%)                        |
        | 2. john ({john}): 2.00 USD (new)                              |
        | 1. Amazon EC2: 200.00 USD (+100.0%)                           |
        | 2. Amazon S3: 2.00 USD (new)                                  |
      And Teams received 1 digest that says:
        | Month to date (2026-11-01 – 2026-11-20)                       |
        | 202.00 USD (+102.0%) vs 100.00 USD                            |
      And the digest run says "slack: posted, teams: posted"

    Scenario: the same run delivered twice posts once
      Given the daily costs:
        | account | service    | from       | to         | a day |
        | jane    | Amazon EC2 | 2026-11-01 | 2026-11-20 | 10.00 |
      When EventBridge Scheduler runs the digest of 2026-11-21, twice
      Then Slack received 1 digest that says:
        | Cloud costs of the organization on 2026-11-21                 |
      And Teams received 1 digest that says:
        | Cloud costs of the organization on 2026-11-21                 |

    Scenario: Teams is down: Slack still gets the digest, and the run says Teams failed
      Given the daily costs:
        | account | service    | from       | to         | a day |
        | jane    | Amazon EC2 | 2026-11-01 | 2026-11-20 | 10.00 |
      And the Teams webhook answers 500
      When EventBridge Scheduler runs the digest of 2026-11-21
      Then Slack received 1 digest that says:
        | *Yesterday* (2026-11-20)\n*10.00 USD* 0.0% vs 10.00 USD       |
      And the digest run says "slack: posted; failed: teams"

  Rule: a purged account that still spends raises ResidualCost, once

    Scenario: after the maintenance window, the account still spending above the threshold raises ResidualCost; the other does not
      Given AWS Organizations reported that every account was created
      And the residual cost threshold is 5.00 USD a day over 3 days
      And the daily costs after the purge:
        | account | day after the purge | amount |
        | jane    | 0                   | 40.00  |
        | jane    | 1                   | 8.00   |
        | john    | 1                   | 4.99   |
        | john    | 0                   | 60.00  |
      When EventBridge Scheduler opens the maintenance window
      And EventBridge Scheduler runs the digest 2 days after the purge
      Then the history of "jane" includes AccountPurged, ResidualCost
      And Slack received 1 message about "jane" that says "ResidualCost"
      And the history of "john" includes AccountPurged
      And the history of "john" does not include ResidualCost
      When EventBridge Scheduler runs the digest 3 days after the purge
      Then Slack received 1 message about "jane" that says "ResidualCost"
