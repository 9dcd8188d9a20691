"""Run moto server on a loopback port for spa's tests and demo.

Prints the port it listens on as the first line of standard output, then serves
until its standard input closes (the parent process ended) or it gets SIGTERM, so
that no emulator outlives the test binary or the demo that started it.

    python scripts/moto_server.py [PORT]    # PORT 0 (default) picks a free port

SPA_MOTO_PLAIN=1 leaves out spa's additions below: moto as installed, for the test
that `spa demo` says what such an emulator lacks.
"""

import json
import os
import signal
import sys
import threading

from moto.server import ThreadedMotoServer


def accept_projects_without_source() -> None:
    """CodeBuild takes a NO_SOURCE project with an inline buildspec and no location
    (spa's projects); moto 5.2 insists on a location for every source type. Relax
    that one check, for NO_SOURCE only, so the emulator holds what AWS holds."""
    import moto.codebuild.responses as codebuild

    strict = codebuild._validate_required_params_source

    def validate(source):
        if source.get("type") == "NO_SOURCE":
            return None
        return strict(source)

    codebuild._validate_required_params_source = validate


# The AWS-managed policies spa attaches (the CodeBuild role of the member footprint).
MANAGED_POLICIES = ("AdministratorAccess",)


def hold_the_managed_policies_spa_attaches() -> None:
    """AWS has its managed policies in every account; moto loads none by default, or
    all of them (about a second per account it creates) with
    MOTO_IAM_LOAD_MANAGED_POLICIES. Load the few spa attaches, in every account."""
    import json

    import moto.iam.models as iam
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data = json.loads(aws_managed_policies_data)
    wanted = {name: data[name] for name in MANAGED_POLICIES if name in data}

    def init_aws_policies(backend):
        return [
            iam.AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, d)
            for name, d in wanted.items()
        ]

    iam.IAMBackend._init_aws_policies = init_aws_policies


def complete_budgets() -> None:
    """Moto 5.2 has only create/describe/delete budget, create/delete notification and
    describe notifications. spa keeps budgets converged, so add what AWS Budgets has
    and spa calls: UpdateBudget, DescribeSubscribersForNotification, CreateSubscriber
    and DeleteSubscriber. Make notifications behave as on AWS too: one is named by its
    type, operator, threshold and threshold type (not by the exact dict moto stored,
    nor by NotificationState); a missing budget or notification is NotFoundException
    (moto answers a 500, or deletes nothing, silently); a notification or subscriber
    that exists already is DuplicateRecordException."""
    import json

    from moto.budgets.exceptions import (
        BudgetMissingLimit,
        DuplicateRecordException,
        NotFoundException,
    )
    from moto.budgets.models import BudgetsBackend
    from moto.budgets.responses import BudgetsResponse
    from moto.core.utils import unix_time

    def same_notification(a, b):
        return (
            a.get("NotificationType") == b.get("NotificationType")
            and a.get("ComparisonOperator") == b.get("ComparisonOperator")
            and a.get("ThresholdType", "PERCENTAGE") == b.get("ThresholdType", "PERCENTAGE")
            and float(a.get("Threshold", 0)) == float(b.get("Threshold", 0))
        )

    def budget(backend, account_id, name, doing):
        found = backend.budgets[account_id].get(name)
        if found is None:
            raise NotFoundException(f"Unable to {doing} - the budget {name} doesn't exist.")
        return found

    def find_notification(found, details, doing):
        for n in found.notifications:
            if same_notification(n.details, details):
                return n
        raise NotFoundException(f"Unable to {doing} - the notification doesn't exist.")

    def update_budget(self, account_id, new_budget):
        found = budget(self, account_id, new_budget.get("BudgetName"), "update budget")
        if "BudgetLimit" not in new_budget and "PlannedBudgetLimits" not in new_budget:
            raise BudgetMissingLimit()
        replaced = dict(new_budget)
        replaced.setdefault("TimePeriod", found.budget["TimePeriod"])
        replaced["LastUpdatedTime"] = unix_time()
        found.budget = replaced

    # keyword names as moto's responses call them
    def create_notification(self, account_id, budget_name, notification, subscribers):
        found = budget(self, account_id, budget_name, "create notification")
        if any(same_notification(n.details, notification) for n in found.notifications):
            raise DuplicateRecordException("notification", budget_name)
        found.add_notification(details=notification, subscribers=list(subscribers))

    def delete_notification(self, account_id, budget_name, notification):
        found = budget(self, account_id, budget_name, "delete notification")
        gone = find_notification(found, notification, "delete notification")
        found.notifications = [n for n in found.notifications if n is not gone]

    def describe_notifications_for_budget(self, account_id, budget_name):
        found = budget(self, account_id, budget_name, "describe notifications")
        return found.get_notifications()

    def describe_subscribers(self, account_id, budget_name, details):
        found = budget(self, account_id, budget_name, "describe subscribers")
        return list(find_notification(found, details, "describe subscribers").subscribers)

    def same_subscriber(a, b):
        return a.get("SubscriptionType") == b.get("SubscriptionType") and a.get(
            "Address"
        ) == b.get("Address")

    def create_subscriber(self, account_id, budget_name, details, subscriber):
        found = budget(self, account_id, budget_name, "create subscriber")
        n = find_notification(found, details, "create subscriber")
        if any(same_subscriber(s, subscriber) for s in n.subscribers):
            raise DuplicateRecordException("subscriber", subscriber.get("Address", ""))
        n.subscribers = list(n.subscribers) + [subscriber]

    def delete_subscriber(self, account_id, budget_name, details, subscriber):
        found = budget(self, account_id, budget_name, "delete subscriber")
        n = find_notification(found, details, "delete subscriber")
        if not any(same_subscriber(s, subscriber) for s in n.subscribers):
            raise NotFoundException("Unable to delete subscriber - the subscriber doesn't exist.")
        n.subscribers = [s for s in n.subscribers if not same_subscriber(s, subscriber)]

    BudgetsBackend.update_budget = update_budget
    BudgetsBackend.create_notification = create_notification
    BudgetsBackend.delete_notification = delete_notification
    BudgetsBackend.describe_notifications_for_budget = describe_notifications_for_budget
    BudgetsBackend.describe_subscribers_for_notification = describe_subscribers
    BudgetsBackend.create_subscriber = create_subscriber
    BudgetsBackend.delete_subscriber = delete_subscriber

    def respond_update_budget(self):
        self.backend.update_budget(self._get_param("AccountId"), self._get_param("NewBudget"))
        return json.dumps({})

    def respond_describe_subscribers(self):
        subscribers = self.backend.describe_subscribers_for_notification(
            self._get_param("AccountId"),
            self._get_param("BudgetName"),
            self._get_param("Notification"),
        )
        # pages as on AWS: MaxResults (1 to 100, default 100), NextToken
        start = int(self._get_param("NextToken") or 0)
        size = int(self._get_param("MaxResults") or 100)
        page = subscribers[start : start + size]
        more = start + size < len(subscribers)
        return json.dumps(
            {"Subscribers": page, "NextToken": str(start + size) if more else None}
        )

    def respond_subscriber(method):
        def respond(self):
            getattr(self.backend, method)(
                self._get_param("AccountId"),
                self._get_param("BudgetName"),
                self._get_param("Notification"),
                self._get_param("Subscriber"),
            )
            return json.dumps({})

        return respond

    BudgetsResponse.update_budget = respond_update_budget
    BudgetsResponse.describe_subscribers_for_notification = respond_describe_subscribers
    BudgetsResponse.create_subscriber = respond_subscriber("create_subscriber")
    BudgetsResponse.delete_subscriber = respond_subscriber("delete_subscriber")


def keep_subscriptions_with_their_topic() -> None:
    """On AWS a topic's subscriptions belong to the topic, whoever made them: when the
    owner of a queue subscribes it to a topic of another account (spa's automation
    account subscribes its budget alerts queue to each member's topic), the topic's
    owner lists that subscription (ListSubscriptionsByTopic) and what is published on
    the topic reaches the queue. Moto 5.2 keeps a subscription in the backend of the
    account that made it and looks for a topic's subscriptions in the topic's account
    only, so such a subscription is neither listed nor delivered to, and outlives the
    topic. Look for them, and delete them with the topic, in every account's backend
    of the topic's region."""
    from moto.sns.models import SNSBackend, sns_backends

    def backends_of_region(region):
        for account_id in list(dict.keys(sns_backends)):
            regions = dict.__getitem__(sns_backends, account_id)
            if dict.__contains__(regions, region):
                yield dict.__getitem__(regions, region)

    def topic_subscriptions(self, topic):
        return [
            s
            for backend in backends_of_region(self.region_name)
            for s in list(backend.subscriptions.values())
            if s.topic == topic
        ]

    def delete_topic_subscriptions(self, topic):
        # the topic's subscriptions go with it, whichever account made them
        for backend in backends_of_region(self.region_name):
            for arn, s in list(backend.subscriptions.items()):
                if s.topic == topic:
                    backend.subscriptions.pop(arn, None)

    SNSBackend._get_topic_subscriptions = topic_subscriptions
    SNSBackend.delete_topic_subscriptions = delete_topic_subscriptions


def deploy_service_control_policies() -> None:
    """spa's management stack holds its guardrails as AWS::Organizations::Policy
    resources, which CloudFormation creates, attaches to their TargetIds, updates and
    deletes. Moto 5.2's CloudFormation does not know the type and skips it (a
    warning), so a deployed stack would hold no policy. Teach it the type, on the
    Organizations backend of the stack's account: create and attach (an unknown
    target fails the stack, as on AWS), update in place (content, name, description,
    targets), detach and delete."""
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel
    from moto.organizations.models import organizations_backends

    def backend(account_id):
        return organizations_backends[account_id]["aws"]

    def content_of(properties):
        content = properties["Content"]
        return content if isinstance(content, str) else json.dumps(content)

    class OrganizationsPolicy(CloudFormationModel):
        # moto files its models by the service its module names
        __module__ = "moto.organizations.models"

        def __init__(self, account_id, policy_id):
            self.account_id = account_id
            self.policy_id = policy_id

        @property
        def physical_resource_id(self):
            return self.policy_id

        @staticmethod
        def cloudformation_name_type():
            return "Name"

        @staticmethod
        def cloudformation_type():
            return "AWS::Organizations::Policy"

        @classmethod
        def has_cfn_attr(cls, attr):
            return attr in ("Id", "Arn")

        def get_cfn_attribute(self, attr):
            policy = backend(self.account_id).get_policy_by_id(self.policy_id)
            return {"Id": policy.id, "Arn": policy.arn}[attr]

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            properties = cloudformation_json["Properties"]
            orgs = backend(account_id)
            created = orgs.create_policy(
                Name=properties["Name"],
                Description=properties.get("Description", ""),
                Content=content_of(properties),
                Type=properties["Type"],
                Tags=properties.get("Tags", []),
            )
            policy_id = created["Policy"]["PolicySummary"]["Id"]
            for target in properties.get("TargetIds", []):
                orgs.attach_policy(PolicyId=policy_id, TargetId=target)
            return cls(account_id, policy_id)

        @classmethod
        def update_from_cloudformation_json(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        ):
            properties = cloudformation_json["Properties"]
            orgs = backend(account_id)
            policy_id = original_resource.policy_id
            orgs.update_policy(
                PolicyId=policy_id,
                Name=properties["Name"],
                Description=properties.get("Description", ""),
                Content=content_of(properties),
            )
            wanted = set(properties.get("TargetIds", []))
            held = {t["TargetId"] for t in orgs.list_targets_for_policy(PolicyId=policy_id)["Targets"]}
            for target in held - wanted:
                orgs.detach_policy(PolicyId=policy_id, TargetId=target)
            for target in wanted - held:
                orgs.attach_policy(PolicyId=policy_id, TargetId=target)
            return original_resource

        def delete(self, account_id, region_name):
            orgs = backend(account_id)
            for target in orgs.list_targets_for_policy(PolicyId=self.policy_id)["Targets"]:
                orgs.detach_policy(PolicyId=self.policy_id, TargetId=target["TargetId"])
            orgs.delete_policy(PolicyId=self.policy_id)

    assert OrganizationsPolicy in CloudFormationModel.__subclasses__()
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def roll_back_transactions_by_item() -> None:
    """AWS applies a DynamoDB transaction all or nothing, at a cost that does not grow
    with the table. moto 5.x keeps its rollback copy by deep-copying every table the
    transaction names, once per item of it: each transaction costs time in proportion
    to the whole table (spa ends each account's turn with one, so a 300-account
    lifecycle bench spent most of two minutes in those copies). Keep a copy of the
    items the transaction touches instead, and put them back when it fails: the same
    all or nothing, at the cost of the items."""
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    class TablesNotCopied:
        """`copy` as moto's DynamoDB backend sees it: a table is not copied (the
        rollback below puts back its items), anything else is."""

        @staticmethod
        def deepcopy(value, memo=None):
            if isinstance(value, Table):
                return value
            return copy.deepcopy(value, memo)

    models.copy = TablesNotCopied()
    transact = models.DynamoDBBackend.transact_write_items

    def touched(backend, transact_items):
        saved = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            name = op.get("TableName")
            if name not in backend.tables:
                continue
            table = backend.tables[name]
            if "Item" in op:
                key = {table.hash_key_attr: op["Item"].get(table.hash_key_attr)}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"].get(table.range_key_attr)
            else:
                key = op.get("Key")
            try:
                item = backend.get_item(name, key)
            except Exception:
                continue
            saved.append((name, key, copy.deepcopy(item)))
        return saved

    def transact_write_items(self, transact_items):
        saved = touched(self, transact_items)
        try:
            return transact(self, transact_items)
        except Exception:
            for name, key, item in reversed(saved):
                if item is None:
                    try:
                        self.delete_item(name, key)
                    except Exception:
                        pass
                else:
                    self.put_item(name, item.to_json()["Attributes"])
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items


def find_the_account_of_a_key_at_once() -> None:
    """AWS knows the account of an access key in a time that does not depend on how
    many accounts the organization has. moto finds it, on every request, by asking
    every account's IAM backend in every partition whether the key is one of its own:
    a request signed with a member role's credentials on a 300-account emulated
    organization spent about a third of its time there (py-spy on the lifecycle
    bench's `spa handle`, and every call signed with the tests' own `testing` key,
    which no account holds, asked them all). Remember the account a key was found in,
    and look there first (a key deleted since is looked for again everywhere, as moto
    does); remember a key no account holds: moto makes every key it hands out, at
    random, before anything signs with it, so a key it did not know is never one of
    its own later."""
    import moto.iam.models as iam

    find = iam.get_account_id_from
    found: dict = {}
    unknown: set = set()

    def holds(account_id, access_key):
        backends = iam.iam_backends[account_id]
        return any(access_key in backends[p].access_keys for p in iam.PARTITION_NAMES)

    def get_account_id_from(access_key):
        if access_key in unknown:
            return iam.DEFAULT_ACCOUNT_ID
        account_id = found.get(access_key)
        if account_id is not None and holds(account_id, access_key):
            return account_id
        account_id = find(access_key)
        if account_id != iam.DEFAULT_ACCOUNT_ID or holds(account_id, access_key):
            found[access_key] = account_id
        else:
            unknown.add(access_key)
        return account_id

    iam.get_account_id_from = get_account_id_from


def list_moto_modules_once() -> None:
    """moto's server lists its own package folder, and asks the file system whether
    each entry is a folder, on every request it routes by host name: a few hundred
    system calls a request, for an answer that does not change while it runs. List it
    once."""
    import moto.backends as backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if os.environ.get("SPA_MOTO_PLAIN") != "1":
        accept_projects_without_source()
        hold_the_managed_policies_spa_attaches()
        complete_budgets()
        keep_subscriptions_with_their_topic()
        deploy_service_control_policies()
        roll_back_transactions_by_item()
        find_the_account_of_a_key_at_once()
        list_moto_modules_once()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    _, bound = server.get_host_and_port()
    print(bound, flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def wait_for_eof() -> None:
        sys.stdin.read()
        done.set()

    if not sys.stdin.isatty():
        threading.Thread(target=wait_for_eof, daemon=True).start()
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
