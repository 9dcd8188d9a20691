@serial
Feature: Reports for FinOps and the cost owners
  spa writes its reports to the reports bucket, named after the period they report,
  never the day they run: the weekly inventory of every account (cost center and its
  owner, OU path, state, holder, since, last console sign-in) and, each month, one
  activities file per cost center (on-boardings and maintenances with their
  durations, console sign-ins). EventBridge Scheduler starts them with the report's
  name; the period comes from the scheduled time. Here spa runs on the emulator (moto)
  as in accounts.feature.

  Background:
    Given the organizational units:
      | unit         | parent |
      | ou-sandboxes | root   |
    And spa manages "ou-sandboxes" with the settings:
      """
      preparation: {feature: enabled}
      purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
      """
    And the reporting settings:
      """
      bucket: spa-features-reports
      recipients: [finops@example.com]
      cost_owners:
        IT-001: finops-it@example.com
      """
    And the accounts:
      | account | unit         | holder           |
      | jane    | ou-sandboxes | jane@example.com |
      | stray   | root         |                  |

  Scenario: the weekly inventory lists every account, a missing cost center in its own bucket
    When AWS Organizations reports that "jane" was created
    And a person tags "jane" with:
      | key         | value  |
      | cost-center | IT-001 |
    And a person signs in to "jane" through SSO
    And EventBridge Scheduler runs the inventory report
    Then the inventory of this week includes:
      | cost center  | cost owner            | OU path           | name  | e-mail                | state    | holder           | since | last console login |
      | IT-001       | finops-it@example.com | Root/ou-sandboxes | jane  | aws+jane@example.com  | assigned | jane@example.com | set   | set                |
      | NoCostCenter |                       | Root              | stray | aws+stray@example.com |          |                  |       |                    |

  Scenario: the activities of a month, one file per cost center, with durations
    When AWS Organizations reports that "jane" was created
    And a person signs in to "jane" through SSO
    And EventBridge Scheduler opens the maintenance window
    And EventBridge Scheduler runs the activities report on the 2nd of next month
    Then the activities of this month for "NoCostCenter" are, in any order:
      | name | activity      | finished | duration |
      | jane | on-boarding   | yes      | yes      |
      | jane | console login | no       | no       |
      | jane | maintenance   | yes      | yes      |

  Scenario: a failed write leaves no file under the final key, and says which key
    Given the reports bucket is gone
    When spa runs the inventory report of this week
    Then the run fails, naming the inventory key of this week
    When the reports bucket is back
    Then the bucket holds no inventory of this week
    When EventBridge Scheduler runs the inventory report
    Then the bucket holds 1 inventory of this week

  Scenario: a re-run of a week overwrites the same key
    When EventBridge Scheduler runs the inventory report
    And a person tags "stray" with:
      | key         | value  |
      | cost-center | HR-002 |
    And EventBridge Scheduler runs the inventory report again, a minute later
    Then the bucket holds 1 inventory of this week
    And the inventory of this week includes:
      | cost center | cost owner | OU path | name  | e-mail                | state | holder | since | last console login |
      | HR-002      |            | Root    | stray | aws+stray@example.com |       |        |       |                    |

  Scenario: a schedule naming an unknown report is refused with the known ones
    When EventBridge Scheduler hands the input:
      """
      {"job": "reports", "report": "salaries", "scheduled_time": "2026-11-23T06:00:00Z"}
      """
    Then the scheduler function refuses it with "unknown report `salaries` at `report`; known reports: costs, inventory, activities"

  Scenario: the monthly cost reports reach the bucket, and the summary reaches FinOps
    Given the notification routes:
      """
      default:
        channels: []
      """
    And Cost Explorer answers for last month:
      | account | service                                | usage type              | amount |
      | jane    | Amazon Elastic Compute Cloud - Compute | EU-BoxUsage:t3.micro    | 120.5  |
      | stray   | Amazon Simple Storage Service          | EU-TimedStorage-ByteHrs | 3.25   |
    When a person tags "jane" with:
      | key         | value  |
      | cost-center | IT-001 |
    And EventBridge Scheduler runs the costs report on the 6th of this month
    Then the bucket holds the cost reports of last month for: summary, IT-001, NoCostCenter
    And the summary workbook of last month has the sheets: Summary, Cost centers, Services
    And its subtotals and total are formulas, never numbers
    And the summary CSV of last month says "jane" cost 120.5 USD in "IT-001"
    And the cost reports of last month were mailed to "finops@example.com" with 2 attachments
