"""Publishing dataset and judge folders to the Hugging Face Hub (one commit each).

    from dataigm.publish import publish_dataset, publish_judge
    result = publish_dataset("RUN/dataset", "org/dataigm", configs=["nudity"])
    print(result.repo_url, result.commit_sha)
"""

from dataigm.publish.dataset import publish_dataset
from dataigm.publish.hub import PublishError, RetryPolicy
from dataigm.publish.judge import publish_judge
from dataigm.publish.plan import PlannedFile, PublishPlan, PublishResult

__all__ = ["PlannedFile", "PublishError", "PublishPlan", "PublishResult", "RetryPolicy", "publish_dataset",
           "publish_judge"]
