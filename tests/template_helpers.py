"""``lambda/template.yaml`` as CloudFormation would deploy it, for tests: intrinsics resolved with test names.

:class:`DeployedTemplate` resolves the intrinsic functions the template uses on the values the
tests read (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If`` on the template's conditions):
parameters take their defaults (or the overrides given), pseudo parameters the test region,
account and stack name, and resources the physical names and ARNs CloudFormation would give them
(a function ``<FunctionName>`` -> ``arn:aws:lambda:<region>:<account>:function:<FunctionName>``),
or the values in ``physical`` (e.g. the ARNs of secrets a test created in moto). A reference it
cannot resolve raises :class:`KeyError` naming it, so a test never runs on a half-resolved value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

TEMPLATE = Path(__file__).resolve().parent.parent / "lambda" / "template.yaml"
REGION = "eu-central-1"
ACCOUNT = "123456789012"
STACK = "gans-test"


def load_template(path: Path = TEMPLATE) -> dict:
    """The template decoded by cfn-lint's decoder (short-form intrinsics become their long form)."""
    decoded, errors = decode(str(path))
    assert not errors, errors
    return decoded


class DeployedTemplate:
    """Resolve intrinsics of ``template`` for one test deployment (see the module docstring)."""

    def __init__(self, template: dict, parameters: dict[str, Any] | None = None, physical: dict | None = None):
        self.template = template
        self.parameters = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
        self.parameters.update(parameters or {})
        self.physical = dict(physical or {})
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }

    # --- the three intrinsics the template's resolved values need ---------------------

    def ref(self, name: str) -> Any:
        """``Ref``: a parameter's value, a pseudo parameter, or a resource's physical id."""
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        resource = self.template["Resources"].get(name)
        if resource is None:
            raise KeyError(f"Ref {name}: no such parameter or resource")
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return self.resolve(resource["Properties"]["FunctionName"])
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            name_ = self.resolve(resource["Properties"]["StateMachineName"])
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name_}"
        raise KeyError(f"Ref {name}: give its physical id in `physical`")

    def get_att(self, name: str, attribute: str) -> Any:
        """``Fn::GetAtt``: ``Arn`` of functions (and of what ``physical`` names as ``<name>.<attribute>``)."""
        key = f"{name}.{attribute}"
        if key in self.physical:
            return self.physical[key]
        resource = self.template["Resources"].get(name)
        if resource is None:
            raise KeyError(f"GetAtt {key}: no such resource")
        if attribute == "Arn" and resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.ref(name)}"
        raise KeyError(f"GetAtt {key}: give its value in `physical`")

    def condition(self, name: str) -> bool:
        """A condition of the template, evaluated on the parameters."""
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, node: Any) -> Any:
        """``node`` with every intrinsic function in it resolved."""
        if isinstance(node, list):
            return [self.resolve(v) for v in node if v != {"Ref": "AWS::NoValue"}]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                name, attribute = value if isinstance(value, list) else value.split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
                return self._sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if key == "Fn::If":
                name, yes, no = value
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in value)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(value[0])
            if key.startswith("Fn::"):
                raise KeyError(f"{key} is not resolved by the test helper")
        return {k: self.resolve(v) for k, v in node.items()}

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    # --- what the tests read ------------------------------------------------------------

    def function_environment(self, resource: str, with_globals: bool = False) -> dict[str, str]:
        """The environment variables a function's template declares (its own; ``with_globals`` adds the Globals')."""
        env: dict[str, Any] = {}
        if with_globals:
            env.update(self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
        props = self.template["Resources"][resource]["Properties"]
        env.update(props.get("Environment", {}).get("Variables", {}))
        return {k: str(self.resolve(v)) for k, v in env.items()}

    def state_machine_definition(self, resource: str = "ExtractStateMachine") -> str:
        """The state machine's definition as Step Functions receives it: JSON, ``DefinitionSubstitutions`` applied."""
        props = self.template["Resources"][resource]["Properties"]
        text = json.dumps(props["Definition"])
        for key, value in self.resolve(props.get("DefinitionSubstitutions", {})).items():
            text = text.replace("${" + key + "}", str(value))
        left = re.findall(r"\$\{[^}]+\}", text)
        if left:
            raise KeyError(f"definition substitutions left unresolved: {sorted(set(left))}")
        return text

    def zip_functions(self) -> dict[str, dict]:
        """Every zip-packaged function: logical id -> its properties (CodeUri, Runtime, Handler ...)."""
        return {
            name: resource["Properties"]
            for name, resource in self.template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
            and resource["Properties"].get("PackageType", "Zip") == "Zip"
        }
