/**
 * Where the task Lambdas run: subnets and security groups of an existing VPC, imported by id (no
 * lookup, so `cdk synth` needs no credentials).
 */
import { Annotations, CfnOutput, Fn } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { TaskPlacement } from './task-function.ts';

/** Properties of {@link TaskNetwork}. */
export interface TaskNetworkProps {
  /** `vpc-...` */
  readonly vpcId: string;
  /** Private subnets that reach the databases, and Secrets Manager through a VPC endpoint or a NAT gateway. */
  readonly subnetIds: readonly string[];
  /** Security groups the databases accept connections from. @default a new group with outbound access only (allow it on the databases) */
  readonly securityGroupIds?: readonly string[];
}

/** The VPC placement shared by every task Lambda of the stack. */
export class TaskNetwork extends Construct implements TaskPlacement {
  public readonly vpc: ec2.IVpc;
  public readonly subnets: ec2.SubnetSelection;
  public readonly securityGroups: readonly ec2.ISecurityGroup[];

  public constructor(scope: Construct, id: string, props: TaskNetworkProps) {
    super(scope, id);
    if (!/^vpc-[0-9a-f]+$/.test(props.vpcId)) throw new Error(`TaskNetwork: vpcId ${JSON.stringify(props.vpcId)} is not a VPC id; expected vpc-<hex>`);
    if (props.subnetIds.length === 0)
      throw new Error('TaskNetwork: subnetIds is empty; give the private subnets the Lambdas run in (-c subnetIds=subnet-a,subnet-b)');
    if (props.securityGroupIds?.length === 0) throw new Error('TaskNetwork: securityGroupIds is empty; leave it out to have the stack create a group');
    // The subnets are given one by one, so the VPC's own zones are never read; a token keeps synth offline.
    this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: props.vpcId, availabilityZones: Fn.getAzs() });
    this.subnets = { subnets: props.subnetIds.map((subnetId, i) => ec2.Subnet.fromSubnetId(this, `Subnet${i}`, subnetId)) };
    const acknowledged = Annotations.of(this);
    acknowledged.acknowledgeWarning(
      '@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
      "the Lambdas name their subnets one by one; the VPC's zones are never read",
    );
    acknowledged.acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', "nothing here routes: the subnets only place the Lambdas' network interfaces");
    if (props.securityGroupIds !== undefined) {
      this.securityGroups = props.securityGroupIds.map((sg, i) => ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i}`, sg, { mutable: false }));
    } else {
      const group = new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: this.vpc,
        description: 'pgferry task Lambdas: allow it on the databases (PostgreSQL port) they connect to',
        // PostgreSQL on any port the pipelines name, Secrets Manager, CloudWatch and X-Ray over HTTPS.
        allowAllOutbound: true,
      });
      this.securityGroups = [group];
      // A fixed output name, as docs/deploy-aws.md tells it.
      new CfnOutput(this, 'SecurityGroupId', {
        value: group.securityGroupId,
        description: 'Allow this security group on the databases the pipelines connect to',
      }).overrideLogicalId('NetworkSecurityGroupId');
    }
  }
}
